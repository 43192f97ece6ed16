import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class Rot90(BaseTransform):
    """Rotate the image and its masks by ``k`` x 90 degrees, exactly.

    A test-time view for ``CrackTTAModel``: the rotation is recorded as
    ``rot90`` (pack it with ``PackSegInputs(meta_keys=(..., 'rot90'))``) so
    the prediction can be rotated back. Odd ``k`` swaps the sides of a
    non-square image; ``img_shape`` follows, ``ori_shape`` stays the
    photo's. MMSeg undoes flips before anything else, so a rotation must
    come before any flip.

    Args:
        k (int): Quarter turns, counter-clockwise (``np.rot90``).
    """

    def __init__(self, k: int):
        self.k = int(k) % 4

    def transform(self, results: dict) -> dict:
        if results.get('flip'):
            raise ValueError('Rot90 must come before RandomFlip: predictions '
                             'are un-flipped before they are un-rotated')
        results['img'] = np.ascontiguousarray(np.rot90(results['img'],
                                                       self.k))
        for key in results.get('seg_fields', []):
            results[key] = np.ascontiguousarray(np.rot90(results[key],
                                                         self.k))
        results['img_shape'] = results['img'].shape[:2]
        results['rot90'] = (results.get('rot90', 0) + self.k) % 4
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(k={self.k})'
