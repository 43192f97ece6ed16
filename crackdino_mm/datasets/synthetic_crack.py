from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import LoadAnnotations, LoadImageFromFile
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .crack_renderer import render_crack_sample


@DATASETS.register_module()
class SyntheticCrackDataset(BaseSegDataset):
    """Procedurally rendered crack photos with exact 0/1 masks.

    Needs no files: sample ``i`` is rendered on access from
    ``(seed, i)``, so the same arguments always give the same images and a
    train split and a test split only need different seeds. Samples come
    out already loaded (``img`` as BGR uint8, ``gt_seg_map`` with 0 for
    background and 1 for crack, ``seg_fields`` set): the pipeline's loading
    transforms (``LoadImageFromFile``, ``LoadCrackAnnotations`` or any
    other annotation loader), which a test pipeline keeps so that MMSeg's
    ``inference_model`` and ``MMSegInferencer`` can read photos with it,
    are skipped for the dataset's own samples.

    Args:
        num_samples (int): Number of images in the split.
        img_size (int | tuple[int, int]): ``(height, width)`` of the images.
        seed (int): Seed of the split.
        crack_width (tuple[float, float]): Width range of the main cracks
            in pixels; branches get thinner down to the lower bound.
        pipeline (list[dict]): Processing pipeline.
    """
    METAINFO = dict(
        classes=('background', 'crack'), palette=[[0, 0, 0], [255, 64, 0]])

    def __init__(self,
                 num_samples: int = 200,
                 img_size: Union[int, Sequence[int]] = 256,
                 seed: int = 0,
                 crack_width: Tuple[float, float] = (1.0, 8.0),
                 **kwargs):
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        if len(img_size) != 2 or min(img_size) < 32:
            raise ValueError(
                f'img_size must be (height, width) of at least 32 px, got '
                f'{img_size}')
        self.num_samples = num_samples
        self.img_size = tuple(int(v) for v in img_size)
        self.seed = seed
        self.crack_width = tuple(crack_width)
        self._renders = {}
        kwargs.setdefault('data_root', '')
        kwargs.setdefault('img_suffix', '.png')
        kwargs.setdefault('seg_map_suffix', '.png')
        super().__init__(**kwargs)
        self.pipeline.transforms = [
            t for t in self.pipeline.transforms
            if not isinstance(t, (LoadImageFromFile, LoadAnnotations))
        ]

    def load_data_list(self) -> list:
        """One light record per sample; pixels are rendered on access."""
        return [
            dict(
                img_path=f'synthetic_s{self.seed}_{i:05d}.png',
                seg_map_path=f'synthetic_s{self.seed}_{i:05d}.png',
                render_index=i,
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[]) for i in range(self.num_samples)
        ]

    def render(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Image (BGR uint8) and 0/1 mask of sample ``index``.

        Renders are kept (per process) once made, so later epochs cost
        nothing; pipelines copy before they modify.
        """
        if index not in self._renders:
            rng = np.random.default_rng([self.seed, index])
            self._renders[index] = render_crack_sample(
                rng, *self.img_size, crack_width=self.crack_width)
        img, mask = self._renders[index]
        return img.copy(), mask.copy()

    def get_data_info(self, idx: int) -> dict:
        data_info = super().get_data_info(idx)
        img, mask = self.render(data_info['render_index'])
        data_info.update(
            img=img,
            gt_seg_map=mask,
            img_shape=img.shape[:2],
            ori_shape=img.shape[:2],
            seg_fields=['gt_seg_map'])
        return data_info
