import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class IgnoreUnlabelled(BaseTransform):
    """Give an image without a mask a label map of ``ignore_index``.

    Unlabelled images can then share batches with labelled ones: the
    segmentation losses skip every one of their pixels while feature losses
    (distillation) still use them. MMSeg has no such transform; a sample
    that has a mask passes through unchanged.
    """

    def __init__(self, ignore_index: int = 255):
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        if 'gt_seg_map' in results:
            return results
        if 'img' not in results:
            raise KeyError('IgnoreUnlabelled needs the image loaded first '
                           '(put it after LoadImageFromFile)')
        results['gt_seg_map'] = np.full(results['img'].shape[:2],
                                        self.ignore_index, np.uint8)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results
