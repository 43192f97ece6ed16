import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

# File endings read as images, by the datasets and by tools/infer.py.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def files_by_key(folder: str, suffix: Optional[str],
                 problems: List[str]) -> Dict[str, str]:
    """Files of a folder by pairing key: the name without ``suffix``, or,
    with ``suffix=None``, the stem of every file with an image extension.
    Two files with one key are reported in ``problems``."""
    found = {}
    for name in sorted(os.listdir(folder)):
        if suffix is None:
            key, extension = osp.splitext(name)
            if extension.lower() not in IMAGE_SUFFIXES:
                continue
        elif name.endswith(suffix) and len(name) > len(suffix):
            key = name[:-len(suffix)]
        else:
            continue
        if key in found:
            problems.append(f'two files for {key!r} in {folder}: '
                            f'{osp.basename(found[key])} and {name}')
        found[key] = osp.join(folder, name)
    return found


@DATASETS.register_module()
class CrackFolderDataset(BaseSegDataset):
    """Crack data as an image folder and a mask folder, paired by name.

    Any public crack set, or a user's own photos, trains and tests by
    config alone: ``data_root`` plus ``data_prefix`` name the two folders,
    and an image pairs with the mask whose name has the same key, the name
    without ``img_suffix`` / ``seg_map_suffix`` (``'.jpg'``,
    ``'_mask.png'``, ...; ``None``, the default, takes the stem of any
    .jpg/.jpeg/.png/.bmp/.tif/.tiff/.webp file). ``LoadCrackAnnotations`` maps
    masks of any common encoding to 0/1: 0/255, 0/1, 16-bit, grey JPEG or
    antialiased masks (thresholded at half range) and RGB/RGBA masks.

    Building the dataset checks every file and raises one error that lists
    every problem: a missing or empty folder, an image without a mask, a
    mask without an image, two files with one key, a file that cannot be
    decoded.

    ``ann_file`` (optional) is a text file of keys, one per line, that
    selects a subset of the folder (a fixed split such as DeepCrack's
    held-out validation images); a listed key with no image is an error.

    Without a mask folder (``seg_map_path`` left out of ``data_prefix`` or
    None, e.g. ``--cfg-options test_dataloader.dataset.data_prefix.
    seg_map_path=None``) the dataset is the folder's images, unlabelled:
    ``tools/test.py --out`` writes their predicted masks and
    ``CrackMetric`` scores nothing.

    Args:
        img_suffix (str, optional): Ending of the image file names.
        seg_map_suffix (str, optional): Ending of the mask file names.
        check_files (bool): Decode every file once (at 1/8 scale) to catch
            broken ones before training starts.
    """
    METAINFO = dict(
        classes=('background', 'crack'), palette=[[0, 0, 0], [255, 64, 0]])

    def __init__(self,
                 data_prefix: dict = dict(
                     img_path='train_img', seg_map_path='train_lab'),
                 img_suffix: Optional[str] = None,
                 seg_map_suffix: Optional[str] = None,
                 check_files: bool = True,
                 **kwargs):
        self.check_files = check_files
        data_prefix = {key: value for key, value in data_prefix.items()
                       if value is not None}
        super().__init__(data_prefix=data_prefix, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

    def load_data_list(self) -> Sequence[dict]:
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path')
        folders = [('image', img_dir, self.img_suffix)]
        if ann_dir is not None:
            folders.append(('mask', ann_dir, self.seg_map_suffix))
        problems = []
        for name, folder, _ in folders:
            if not osp.isdir(folder):
                problems.append(f'{name} folder {folder} does not exist')
        if problems:
            raise FileNotFoundError(
                f'{type(self).__name__} under {self.data_root!r}: ' +
                '; '.join(problems))
        found = {}
        for name, folder, suffix in folders:
            found[name] = files_by_key(folder, suffix, problems)
            if not found[name]:
                problems.append(
                    f'no {name} in {folder} (expected names ending in '
                    f'{suffix or " or ".join(IMAGE_SUFFIXES)})')
        images, masks = found['image'], found.get('mask')
        if masks is not None:
            for key in sorted(set(images) - set(masks)):
                problems.append(
                    f'image {images[key]} has no mask in {ann_dir}')
            for key in sorted(set(masks) - set(images)):
                problems.append(
                    f'mask {masks[key]} has no image in {img_dir}')
        keys = sorted(set(images) & set(masks)) if masks is not None \
            else sorted(images)
        if self.ann_file:
            keys = self._listed_keys(set(keys), problems)
        records = [dict(img_path=images[key]) for key in keys]
        if masks is not None:
            for key, record in zip(keys, records):
                record['seg_map_path'] = masks[key]
        if self.check_files:
            for record in records:
                for path in (record['img_path'], record.get('seg_map_path')):
                    if path and cv2.imread(
                            path, cv2.IMREAD_REDUCED_GRAYSCALE_8) is None:
                        problems.append(f'{path} cannot be decoded')
        if problems:
            raise ValueError(
                f'{len(problems)} problem(s) in the crack data '
                f'({img_dir}, {ann_dir}):\n  ' + '\n  '.join(problems))
        for record in records:
            record.update(label_map=self.label_map,
                          reduce_zero_label=self.reduce_zero_label,
                          seg_fields=[])
        return records

    def _listed_keys(self, available: set, problems: List[str]) -> List[str]:
        """The keys of ``ann_file``, each checked against the pairs found."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__}: split file {self.ann_file} does '
                'not exist')
        with open(self.ann_file) as f:
            keys = [line.strip() for line in f if line.strip()]
        if not keys:
            problems.append(f'split file {self.ann_file} lists no image')
        problems.extend(f'{self.ann_file} lists {key!r}, which is not in '
                        'the folders' for key in keys if key not in available)
        return [key for key in keys if key in available]
