"""A site's photos for adaptation: a few labelled ones, or unlabelled ones,
read and checked as ``CrackFolderDataset`` reads training data."""
import os.path as osp
import random
from typing import List, NamedTuple, Optional

import cv2
import numpy as np
from mmcv.transforms import LoadImageFromFile

from ..datasets import CrackFolderDataset, LoadCrackAnnotations
from ..inspection.report import read_photo


class SitePhoto(NamedTuple):
    """One photo of a site, as ``load_site_photos`` reads it.

    Args:
        path (str): The image file.
        img (np.ndarray): Its BGR pixels (H, W, 3; uint8).
        label (np.ndarray, optional): Its 0/1 label (H, W; uint8), None if
            unlabelled.
    """
    path: str
    img: np.ndarray
    label: Optional[np.ndarray]


def site_keys(images: str, masks: Optional[str] = None) -> List[str]:
    """The photo keys of a folder (paired with ``masks`` if given)."""
    return [photo_key(r['img_path'])
            for r in _dataset(images, masks).data_list]


def photo_key(path: str) -> str:
    """A photo's pairing key: its file name without extension."""
    return osp.splitext(osp.basename(path))[0]


def check_photo_files(paths: List[str], where: str) -> None:
    """Decode every file of ``paths`` whole; a ValueError of one line
    names each one that is unreadable, empty or truncated (mmcv's loader
    would stop at the first with a traceback, or take a truncated JPEG's
    grey fill for the photo)."""
    problems = []
    for path in paths:
        problem = read_photo(path, cv2.IMREAD_UNCHANGED)[1]
        if problem:
            problems.append(f'{path}: {problem}')
    if problems:
        raise ValueError(f'{len(problems)} unreadable file(s) among the '
                         f'{where}: ' + '; '.join(problems))


def draw_keys(keys: List[str], k: Optional[int], seed: int,
              where: str) -> List[str]:
    """``k`` keys drawn with ``seed`` (all of them when ``k`` is None).

    Args:
        keys (list[str]): The photo keys to draw from.
        k (int, optional): How many to draw; None for all.
        seed (int): Seed of the draw; the same keys and seed always give
            the same draw.
        where (str): What names the photos in the error (their folder).

    Returns:
        list[str]: The drawn keys, sorted (all of ``keys``, in their order,
        when ``k`` is None).

    Raises:
        ValueError: If ``k`` is not in [1, len(keys)].
    """
    if k is None:
        return list(keys)
    if not 1 <= k <= len(keys):
        raise ValueError(f'{where} holds {len(keys)} photo(s); cannot draw '
                         f'k={k} of them')
    return sorted(random.Random(seed).sample(sorted(keys), k))


def load_site_photos(images: str, masks: Optional[str] = None,
                     k: Optional[int] = None, seed: int = 0,
                     require_crack: bool = True) -> List[SitePhoto]:
    """``k`` photos of ``images`` (all if None), drawn with ``seed``,
    labelled by ``masks`` if given.

    Args:
        images (str): The folder of photos.
        masks (str, optional): The folder of their masks (any encoding
            ``LoadCrackAnnotations`` reads), paired by file name. Defaults
            to None: unlabelled photos.
        k (int, optional): How many photos to draw. Defaults to None: all.
        seed (int): Seed of the draw. Defaults to 0.
        require_crack (bool): Refuse labelled photos without a single
            crack pixel, on which no threshold can be chosen. Defaults to
            True.

    Returns:
        list[SitePhoto]: The photos, in the order of their keys.

    Raises:
        FileNotFoundError: If a folder does not exist.
        ValueError: Naming its files, for an empty folder, an image
            without a mask (or the reverse), an unreadable, empty or
            truncated image or mask, a mask of another size, a ``k`` out
            of range, and (``require_crack``) labelled photos without a
            crack pixel.
    """
    dataset = _dataset(images, masks)
    records = {photo_key(r['img_path']): r for r in dataset.data_list}
    keys = draw_keys(list(records), k, seed, images)
    check_photo_files(
        [path for key in keys for path in (records[key]['img_path'],
                                           records[key].get('seg_map_path'))
         if path], 'labelled photos' if masks else 'unlabelled photos')
    load_image, load_label = LoadImageFromFile(), LoadCrackAnnotations()
    photos = []
    for key in keys:
        record = dict(records[key], seg_fields=[])
        data = load_label(load_image(record))
        photos.append(SitePhoto(record['img_path'], data['img'],
                                data.get('gt_seg_map')))
    if masks is not None and require_crack and not any(
            (photo.label == 1).any() for photo in photos):
        raise ValueError(
            f'none of the {len(photos)} labelled photo(s) in {masks} holds '
            'a crack pixel: a decision threshold cannot be chosen on them '
            f'({", ".join(photo_key(p.path) for p in photos)})')
    return photos


def _dataset(images: str, masks: Optional[str]) -> CrackFolderDataset:
    # check_photo_files decodes the photos used, whole (the dataset's own
    # check reads every file at 1/8 scale, where OpenCV warns on stderr).
    return CrackFolderDataset(
        data_root='', data_prefix=dict(img_path=images, seg_map_path=masks),
        pipeline=[], serialize_data=False, lazy_init=False,
        check_files=False)
