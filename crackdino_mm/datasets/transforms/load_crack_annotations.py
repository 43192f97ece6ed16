import cv2
import mmcv
import numpy as np
from mmcv.transforms import LoadAnnotations as MMCVLoadAnnotations
from mmengine import fileio
from mmseg.registry import TRANSFORMS


#: Label of pixels left out of training and scores (MMSeg's ignore index).
IGNORE = 255
#: Grey value that marks ignored pixels in a 0/255 crack mask.
IGNORE_GREY = 128


def binarize_crack_mask(mask: np.ndarray, path: str = '<mask>') -> np.ndarray:
    """Map a crack mask of any common encoding to 0/1 labels (uint8), with
    ``IGNORE`` (255) for pixels to leave out.

    Accepts 0/1 and 0/255 masks, JPEG masks with compression noise
    (thresholded at half the value range), 16-bit masks (0/65535, or 0/255
    stored in 16 bits), and RGB/RGBA masks (the colour channels'
    luminance; alpha is ignored). Two lossless encodings mark ignored
    pixels: MMSeg's labels (values exactly within {0, 1, 255} with some
    1: 255 is ignore) and 0/255 masks with grey ``IGNORE_GREY`` (values
    exactly within {0, 128, 255} with some 128), which can mark ignored
    pixels in a photo without crack.
    """
    if mask is None:
        raise OSError(f'cannot read the mask {path}')
    if mask.ndim == 3:
        colour = mask[..., :3]
        mask = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY) \
            if colour.shape[-1] == 3 else colour[..., 0]
    if mask.ndim != 2:
        raise ValueError(f'{path}: expected a 2-D mask, got shape '
                         f'{mask.shape}')
    top = mask.max()
    if top <= 1:
        return (mask == 1).astype(np.uint8)
    if mask.dtype == np.uint8:
        values = set(np.unique(mask).tolist())
        if 1 in values and values <= {0, 1, IGNORE}:
            return mask.copy()
        if IGNORE_GREY in values and values <= {0, IGNORE_GREY, 255}:
            labels = (mask == 255).astype(np.uint8)
            labels[mask == IGNORE_GREY] = IGNORE
            return labels
    # A 16-bit file holding 0/255 values is thresholded like an 8-bit one.
    half = 32767 if top > 255 else 127
    return (mask > half).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadCrackAnnotations(MMCVLoadAnnotations):
    """Load a crack mask as 0 (background) / 1 (crack) labels, 255 where
    the mask marks pixels to ignore (``binarize_crack_mask``).

    Use it in place of MMSeg's ``LoadAnnotations`` for crack data: masks
    stored as 0/255 (DeepCrack) would otherwise mark every crack pixel
    with 255, MMSeg's ignore index. The mask must have the image's size.

    A sample without a mask (no ``seg_map_path``: a photo given to MMSeg's
    ``inference_model`` or ``MMSegInferencer``, which strip only MMSeg's
    own ``LoadAnnotations``, or an unlabelled image folder) passes through
    unchanged, without ``gt_seg_map``; with ``unlabelled_as_ignored`` it
    gets a label of 255 everywhere instead, so that unlabelled photos can
    share a training batch with labelled ones and train only label-free
    losses (distillation on a site's unlabelled photos).
    """

    def __init__(self, unlabelled_as_ignored: bool = False,
                 backend_args=None):
        super().__init__(with_bbox=False, with_label=False, with_seg=True,
                         with_keypoints=False, backend_args=backend_args)
        self.unlabelled_as_ignored = unlabelled_as_ignored

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        if path is None:
            if self.unlabelled_as_ignored:
                results['gt_seg_map'] = np.full(results['img'].shape[:2],
                                                255, np.uint8)
                results['seg_fields'].append('gt_seg_map')
            return
        data = fileio.get(path, backend_args=self.backend_args)
        mask = mmcv.imfrombytes(data, flag='unchanged', backend='cv2')
        mask = binarize_crack_mask(mask, path)
        if 'img' in results and results['img'].shape[:2] != mask.shape:
            raise ValueError(
                f'mask {path} is {mask.shape[1]}x{mask.shape[0]} but image '
                f'{results.get("img_path")} is {results["img"].shape[1]}x'
                f'{results["img"].shape[0]}')
        results['gt_seg_map'] = mask
        results['seg_fields'].append('gt_seg_map')
