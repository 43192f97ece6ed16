import math
from typing import Any, Dict, Optional

import torch
import torch.nn.functional as F
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

from ..utils import check_scale


@MODELS.register_module()
class CrackDataPreProcessor(SegDataPreProcessor):
    """SegDataPreProcessor with a test-time input scale and mirrored
    test-time padding.

    ``test_cfg=dict(scale=s)`` resizes each test image by ``s`` (bilinear,
    antialiased when shrinking) before normalisation: a site whose cracks
    are thinner or wider in pixels than the training data's is seen at the
    training scale. MMSeg's postprocessing resizes the prediction back to
    the original size, so the output, metrics and masks stay at the photo's
    size. ``tools/adapt.py`` chooses ``s``; ``test_scale`` is the attribute
    the calibration sets.

    ``test_cfg=dict(size_divisor=14, pad_mode='reflect')`` pads each test
    image (after normalisation) at the bottom and right to a multiple of
    14 with its own mirrored border instead of a constant, and records the
    padding as SegDataPreProcessor does (``img_padding_size``,
    ``pad_shape``), so MMSeg crops it off the prediction before resizing
    that to the original size. A constant border (mean colour) can read as
    an edge to a crack detector; a mirrored one continues the texture.
    ``pad_mode`` is 'constant' (SegDataPreProcessor's own padding with
    ``pad_val``, the default), 'reflect' or 'replicate'. Training is
    SegDataPreProcessor's.
    """

    PAD_MODES = ('constant', 'reflect', 'replicate')

    def __init__(self, *args, test_cfg: Optional[dict] = None, **kwargs):
        test_cfg = dict(test_cfg or {})
        pad_mode = test_cfg.pop('pad_mode', 'constant')
        if pad_mode not in self.PAD_MODES:
            raise ValueError(f'test_cfg.pad_mode must be one of '
                             f'{self.PAD_MODES}, got {pad_mode!r}')
        self.test_scale = check_scale(test_cfg.pop('scale', 1.0),
                                      'data_preprocessor.test_cfg.scale')
        super().__init__(*args, test_cfg=test_cfg or None, **kwargs)
        self.test_pad_mode = pad_mode

    def rescale(self, image: torch.Tensor) -> torch.Tensor:
        """A (C, H, W) pixel tensor resized by ``test_scale`` (float)."""
        height, width = image.shape[-2:]
        size = (max(1, round(height * self.test_scale)),
                max(1, round(width * self.test_scale)))
        return F.interpolate(image[None].float(), size=size,
                             mode='bilinear', align_corners=False,
                             antialias=self.test_scale < 1)[0]

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        if not training and self.test_scale != 1:
            inputs = [self.rescale(image.to(self.device))
                      for image in data['inputs']]
            # The head predicts at the resized size, as for a photo of it.
            for image, sample in zip(inputs, data.get('data_samples') or []):
                sample.set_metainfo(dict(img_shape=tuple(image.shape[-2:]),
                                         pad_shape=tuple(image.shape[-2:])))
            data = dict(data, inputs=inputs)
        if training or not self.test_cfg or self.test_pad_mode == 'constant':
            return super().forward(data, training)
        test_cfg, self.test_cfg = self.test_cfg, None
        try:  # normalised and stacked, not padded
            data = super().forward(data, training)
        finally:
            self.test_cfg = test_cfg
        inputs = data['inputs']
        height, width = inputs.shape[-2:]
        if test_cfg.get('size') is not None:
            target = test_cfg['size']
        else:
            divisor = test_cfg['size_divisor']
            target = (math.ceil(height / divisor) * divisor,
                      math.ceil(width / divisor) * divisor)
        bottom, right = max(target[0] - height, 0), max(target[1] - width, 0)
        if self.test_pad_mode == 'reflect' and (bottom >= height
                                                or right >= width):
            raise ValueError(
                f'reflect padding cannot grow a {height}x{width} image to '
                f'{target[0]}x{target[1]} (at most {2 * height - 1}x'
                f"{2 * width - 1}); use pad_mode='replicate'")
        inputs = F.pad(inputs, (0, right, 0, bottom), mode=self.test_pad_mode)
        for sample in data.get('data_samples') or []:
            sample.set_metainfo(
                dict(img_padding_size=(0, right, 0, bottom),
                     pad_shape=tuple(inputs.shape[-2:])))
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
