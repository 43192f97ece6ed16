"""One way to predict: crack probability of a photo of any size."""
from contextlib import contextmanager
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

from ..utils import crack_probability, seg_logits_probability


def window_starts(size: int, crop: int, stride: int) -> list:
    """Window starts along one axis, placed as MMSeg's slide inference
    places them: every ``stride`` pixels, the last flush with the end.

    Args:
        size (int): Length of the axis, in pixels.
        crop (int): Window length.
        stride (int): Step between windows.

    Returns:
        list[int]: The starts (0 alone when ``size`` <= ``crop``).
    """
    last = max(size - crop, 0)
    return [min(start, last) for start in range(0, last + stride, stride)]


def _coverage(size: int, starts: Sequence[int], crop: int) -> torch.Tensor:
    """How many windows cover each pixel along one axis."""
    covers = torch.zeros(size)
    for start in starts:
        covers[start:start + crop] += 1
    return covers


class CrackPredictor:
    """Crack probability (H, W) of a BGR photo of any size, as the config
    predicts it, in bounded memory.

    ``test_cfg.mode='whole'``: a photo of at most ``max_whole_pixels``
    (default four training crops) goes through the model whole
    (``test_step``, exactly as ``tools/test.py`` predicts it: test-time
    scale, recorded padding and resizing back by the model's own data
    preprocessor and postprocessing). Larger photos, and every photo of a
    ``mode='slide'`` config, are slid with windows of ``crop_size`` every
    ``stride`` (the config's ``test_cfg``, else its training ``crop_size``
    and 3/4 of it), ``batch_size`` windows per forward pass; window logits
    are averaged as MMSeg's slide inference averages them, but summed into
    one float32 map of the photo (MMSeg's holds a padded copy of the whole
    image per window, too much for large photos). Sliding applies the
    test-time scale to the photo first, so windows keep the size the model
    was trained on.

    Args:
        model (torch.nn.Module): A segmentor from ``init_crack_model``
            (``model.cfg`` set).
        crop_size (int, optional): Slide every photo with square windows
            of this side. Defaults to None: as the config says.
        stride (int, optional): Window stride. Defaults to None: the
            config's, else 3/4 of the crop.
        batch_size (int, optional): Windows per pass. Defaults to None: 8
            on CUDA, else 1.
        max_whole_pixels (int, optional): Whole-mode limit, in pixels of
            the (scaled) photo. Defaults to None: four crops.

    Raises:
        KeyError: If ``crop_size`` is not given and the config has none
            (windows are needed for photos too large to go whole).
        ValueError: If the stride is larger than the crop.
    """

    def __init__(self, model, crop_size: Optional[int] = None,
                 stride: Optional[int] = None,
                 batch_size: Optional[int] = None,
                 max_whole_pixels: Optional[int] = None):
        self.model = model
        test_cfg = model.cfg.model.get('test_cfg') or {}
        self.mode = 'slide' if crop_size else test_cfg.get('mode', 'whole')
        if crop_size:
            self.crop = (crop_size, ) * 2
        elif self.mode == 'slide':
            self.crop = tuple(test_cfg['crop_size'])
        elif model.cfg.get('crop_size'):
            self.crop = tuple(model.cfg.crop_size)
        else:
            raise KeyError(
                f'{model.cfg.filename}: no crop_size for sliding windows over '
                'large photos (neither test_cfg.crop_size nor a top-level '
                'crop_size); give crop_size')
        if stride:
            self.stride = (stride, ) * 2
        elif self.mode == 'slide' and not crop_size:
            self.stride = tuple(test_cfg['stride'])
        else:
            self.stride = tuple(max(1, c * 3 // 4) for c in self.crop)
        if any(s > c for s, c in zip(self.stride, self.crop)):
            raise ValueError(f'stride {self.stride} larger than the crop '
                             f'{self.crop} leaves gaps')
        self.max_whole_pixels = max_whole_pixels or \
            4 * self.crop[0] * self.crop[1]
        self.batch_size = batch_size or (
            8 if self.device.type == 'cuda' else 1)

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return self.model.data_preprocessor.device

    @property
    def threshold(self) -> float:
        """The model's decision threshold."""
        return float(self.model.decode_head.threshold)

    @property
    def scale(self) -> float:
        """The model's test-time input scale (1 without one)."""
        return float(getattr(self.model.data_preprocessor, 'test_scale', 1))

    def mask(self, img: np.ndarray) -> np.ndarray:
        """The crack mask at the model's threshold.

        Args:
            img (np.ndarray): A BGR photo (H, W, 3).

        Returns:
            np.ndarray: (H, W; uint8) 1 where the probability is above
            the threshold, else 0.
        """
        return (self.probability(img) > self.threshold).astype(np.uint8)

    @torch.no_grad()
    def probability(self, img: np.ndarray) -> np.ndarray:
        """Per-pixel crack probability of a BGR photo.

        Args:
            img (np.ndarray): A BGR photo (H, W, 3).

        Returns:
            np.ndarray: (H, W; float32) crack probability in [0, 1].
        """
        height, width = img.shape[:2]
        pixels = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0,
                                                                     1)))
        scaled = (round(height * self.scale), round(width * self.scale))
        if self.mode == 'whole' and \
                scaled[0] * scaled[1] <= self.max_whole_pixels:
            sample = SegDataSample(metainfo=dict(
                ori_shape=(height, width), img_shape=(height, width),
                pad_shape=(height, width)))
            result = self.model.test_step(
                dict(inputs=[pixels], data_samples=[sample]))[0]
            return seg_logits_probability(
                result.seg_logits.data).cpu().numpy()
        if self.scale != 1:
            pixels = self.model.data_preprocessor.rescale(
                pixels.to(self.device)).cpu()
        logits = self._slide_logits(pixels)
        if self.scale != 1:
            logits = F.interpolate(logits[None], size=(height, width),
                                   mode='bilinear', align_corners=False)[0]
        return crack_probability(logits, dim=0).numpy()

    def _slide_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """Averaged window logits (C, H, W; float32, CPU) of a (3, H, W)
        pixel tensor at the model's input scale."""
        height, width = pixels.shape[-2:]
        ys = window_starts(height, self.crop[0], self.stride[0])
        xs = window_starts(width, self.crop[1], self.stride[1])
        corners = [(y, x) for y in ys for x in xs]
        logits = None
        for i in range(0, len(corners), self.batch_size):
            batch = corners[i:i + self.batch_size]
            out = self._window_logits([
                pixels[:, y:y + self.crop[0], x:x + self.crop[1]]
                for y, x in batch
            ]).float().cpu()
            if logits is None:
                logits = torch.zeros(out.shape[1], height, width)
            for (y, x), window in zip(batch, out):
                logits[:, y:y + window.shape[1],
                       x:x + window.shape[2]] += window
        # The windows form a grid: a pixel is covered by the windows over
        # its row times those over its column.
        logits /= _coverage(height, ys, self.crop[0])[:, None]
        logits /= _coverage(width, xs, self.crop[1])
        return logits

    def _window_logits(self, windows) -> torch.Tensor:
        """Logits (N, C, h, w) of same-sized windows in one pass, with the
        padding the preprocessor may add cropped off."""
        height, width = windows[0].shape[-2:]
        meta = dict(ori_shape=(height, width), img_shape=(height, width),
                    pad_shape=(height, width))
        with self._unscaled():
            data = self.model.data_preprocessor(dict(
                inputs=list(windows),
                data_samples=[SegDataSample(metainfo=meta)
                              for _ in windows]), False)
        metas = [sample.metainfo for sample in data['data_samples']]
        logits = self.model.whole_inference(data['inputs'], metas)
        left, right, top, bottom = metas[0].get(
            'img_padding_size', metas[0].get('padding_size', [0] * 4))
        return logits[:, :, top:logits.shape[2] - bottom,
                      left:logits.shape[3] - right]

    @contextmanager
    def _unscaled(self):
        """The preprocessor without its test-time scale (windows come from
        a photo that is already scaled)."""
        preprocessor = self.model.data_preprocessor
        scale = getattr(preprocessor, 'test_scale', None)
        if scale is not None:
            preprocessor.test_scale = 1.0
        try:
            yield
        finally:
            if scale is not None:
                preprocessor.test_scale = scale

