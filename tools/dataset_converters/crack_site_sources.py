"""Shared steps of the site converters (``sut_crack.py``, ``paveseg.py``,
``uav_crack.py``, ``ceramic_tiles.py``): read a source's image/mask pairs,
map each mask to the sites' encoding, split the photos by blocks of
consecutive numbers and write

    OUT/<Site>/{train,test}_img/<key>.jpg|png
    OUT/<Site>/{train,test}_lab/<key>.png
    OUT/<Site>/manifest.json

``train`` is the site's adaptation pool (the labelled and unlabelled photos
of ``tools/adapt.py`` come from it), ``test`` its test part. Masks hold 0
(background) and 255 (crack), the encoding of the other sites, which
``LoadCrackAnnotations`` reads as 0/1, and grey ``IGNORE_GREY`` where a
source marks pixels to leave out (read as MMSeg's ignore index). JPEG
images are copied byte for byte (whatever their file ending); other images
are written as RGB PNG.
"""
import argparse
import json
import math
import os
import os.path as osp
import random
import re
import shutil
import subprocess
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

#: The test part's least share of a site's photos.
TEST_FRACTION = 0.4
JPEG_MAGIC = b'\xff\xd8\xff'
#: A mask's grey for ignored pixels (``binarize_crack_mask``'s rule).
IGNORE_GREY = 128


class SiteSource(NamedTuple):
    """Where a site's pairs lie in its source and how to read them."""
    site: str
    repository: str
    images: str  # folder of the images, relative to the source root
    masks: str  # folder of the masks, relative to the source root
    mask_suffix: str  # a mask's name: the image's stem and this ending
    crack: Callable[[np.ndarray], np.ndarray]  # grey mask -> crack (bool)
    block: int  # photos whose numbers share ``n // block`` stay together
    expected_pairs: int  # pairs the source is documented to hold
    rule: str  # the mask rule, in words, for the manifest
    forbidden: Tuple[str, ...] = ()  # source folders never to be read
    #: grey mask -> pixels to ignore (bool), where a source has such a class
    ignored: Optional[Callable[[np.ndarray], np.ndarray]] = None


def source_commit(source: str) -> Optional[str]:
    """The commit of a git checkout ``source``, or None."""
    try:
        result = subprocess.run(['git', '-C', source, 'rev-parse', 'HEAD'],
                                capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


def block_of(key: str, block: int) -> Tuple[str, int]:
    """The block of a photo: its name's prefix and number // ``block``
    (a name without a number is a block of its own)."""
    match = re.fullmatch(r'(\D*)(\d+)', key)
    if match is None:
        return key, 0
    return match.group(1), int(match.group(2)) // block


def split_by_blocks(keys: List[str], block: int,
                    seed: int) -> Dict[str, List[str]]:
    """Whole blocks (``block_of``), drawn with ``seed``, go to the test part
    until it holds at least ``TEST_FRACTION`` of the photos; the rest is
    the adaptation pool. Neighbouring photos never straddle the split."""
    blocks: Dict[Tuple[str, int], List[str]] = {}
    for key in sorted(keys):
        blocks.setdefault(block_of(key, block), []).append(key)
    order = sorted(blocks)
    random.Random(seed).shuffle(order)
    test, least = [], math.ceil(TEST_FRACTION * len(keys))
    for name in order:
        if len(test) >= least:
            break
        test.extend(blocks[name])
    return dict(train=sorted(set(keys) - set(test)), test=sorted(test))


def read_image(path: str) -> Tuple[np.ndarray, Optional[bytes]]:
    """BGR pixels of an image decoded by content (a ``.png`` may hold JPEG
    bytes), and its bytes when they are a colour JPEG to copy as is. An
    alpha channel is dropped."""
    with open(path, 'rb') as f:
        data = f.read()
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.dtype != np.uint8:
        raise ValueError(f'{path} cannot be decoded as an 8-bit image')
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    jpeg = data if data.startswith(JPEG_MAGIC) and img.shape[2] == 3 \
        else None
    return img[..., :3], jpeg


def read_grey_mask(path: str) -> np.ndarray:
    """A mask's grey values (the colour channels' luminance; alpha is
    dropped), decoded by content."""
    mask = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.dtype != np.uint8:
        raise ValueError(f'{path} cannot be decoded as an 8-bit mask')
    if mask.ndim == 3:
        mask = cv2.cvtColor(mask[..., :3], cv2.COLOR_BGR2GRAY)
    return mask


def find_pairs(spec: SiteSource, source: str,
               problems: List[str]) -> Dict[str, Tuple[str, str]]:
    """(image, mask) paths by key, every missing partner in ``problems``."""
    img_dir, lab_dir = (osp.join(source, spec.images),
                        osp.join(source, spec.masks))
    missing = [d for d in (img_dir, lab_dir) if not osp.isdir(d)]
    if missing:
        problems.extend(f'folder {d} does not exist' for d in missing)
        return {}
    images = {osp.splitext(f)[0]: f for f in sorted(os.listdir(img_dir))
              if not f.startswith('.')}
    masks = {f[:-len(spec.mask_suffix)]: f
             for f in sorted(os.listdir(lab_dir))
             if f.endswith(spec.mask_suffix) and not f.startswith('.')}
    problems.extend(f'image {osp.join(img_dir, images[k])} has no mask '
                    f'{k}{spec.mask_suffix} in {lab_dir}'
                    for k in sorted(set(images) - set(masks)))
    problems.extend(f'mask {osp.join(lab_dir, masks[k])} has no image in '
                    f'{img_dir}' for k in sorted(set(masks) - set(images)))
    if not images:
        problems.append(f'no image in {img_dir}')
    return {k: (osp.join(img_dir, images[k]), osp.join(lab_dir, masks[k]))
            for k in sorted(set(images) & set(masks))}


def check_allowed(spec: SiteSource, source: str) -> None:
    """Refuse a source inside a folder the site must never read."""
    parts = osp.abspath(source).replace(os.sep, '/')
    for folder in spec.forbidden:
        if f'/{folder}/' in parts + '/':
            raise ValueError(f'{source} lies in {folder}, which must not be '
                             f'used for {spec.site}: give the root of a '
                             f'checkout of {spec.repository}')


def convert_pair(spec: SiteSource, image: str, mask: str, img_out: str,
                 lab_out: str, key: str) -> Tuple[int, int]:
    """Write one pair in the sites' layout; returns its crack and ignored
    pixels."""
    img, jpeg = read_image(image)
    grey = read_grey_mask(mask)
    if grey.shape != img.shape[:2]:
        raise ValueError(f'mask {mask} is {grey.shape[1]}x{grey.shape[0]} '
                         f'but image {image} is {img.shape[1]}x'
                         f'{img.shape[0]}')
    try:
        crack = spec.crack(grey)
        ignored = spec.ignored(grey) & ~crack if spec.ignored else \
            np.zeros_like(crack)
    except ValueError as error:
        raise ValueError(f'mask {mask}: {error}') from None
    if jpeg is not None:
        with open(osp.join(img_out, key + '.jpg'), 'wb') as f:
            f.write(jpeg)
    else:
        cv2.imwrite(osp.join(img_out, key + '.png'), img)
    out = crack.astype(np.uint8) * 255
    out[ignored] = IGNORE_GREY
    cv2.imwrite(osp.join(lab_out, key + '.png'), out)
    return int(crack.sum()), int(ignored.sum())


def build(spec: SiteSource, source: str, out: str, seed: int = 0,
          commit: Optional[str] = None) -> dict:
    """Convert ``source`` (a checkout or extracted archive of
    ``spec.repository``) into ``out/<site>``; returns the manifest written
    there. Any problem leaves ``out`` untouched and raises one error that
    lists every problem."""
    check_allowed(spec, source)
    commit = commit or source_commit(source)
    if not commit:
        raise ValueError(f'{source} is not a git checkout: give the commit '
                         f'of {spec.repository} it was extracted from')
    problems: List[str] = []
    pairs = find_pairs(spec, source, problems)
    if problems:
        raise ValueError(f'{len(problems)} problem(s) in {source}:\n  ' +
                         '\n  '.join(problems))
    splits = split_by_blocks(list(pairs), spec.block, seed)
    if not splits['train']:
        raise ValueError(f'{source}: its {len(pairs)} pair(s) lie in too '
                         'few blocks to leave an adaptation pool beside '
                         'the test part')
    site_dir = osp.join(out, spec.site)
    staging = site_dir + '.partial'
    shutil.rmtree(staging, ignore_errors=True)
    crack_pixels, ignored_pixels = {}, {}
    for split, keys in splits.items():
        img_out = osp.join(staging, f'{split}_img')
        lab_out = osp.join(staging, f'{split}_lab')
        os.makedirs(img_out)
        os.makedirs(lab_out)
        crack_pixels[split] = ignored_pixels[split] = 0
        for key in keys:
            try:
                crack, ignored = convert_pair(spec, *pairs[key], img_out,
                                              lab_out, key)
                crack_pixels[split] += crack
                ignored_pixels[split] += ignored
            except ValueError as error:
                problems.append(str(error))
    if problems:
        shutil.rmtree(staging)
        raise ValueError(f'{len(problems)} problem(s) in {source}:\n  ' +
                         '\n  '.join(problems))
    manifest = dict(
        site=spec.site, source=spec.repository, commit=commit,
        images=spec.images, masks=spec.masks, mask_rule=spec.rule,
        expected_pairs=spec.expected_pairs, pairs=len(pairs),
        counts={split: len(keys) for split, keys in splits.items()},
        crack_pixels=crack_pixels,
        **(dict(ignored_pixels=ignored_pixels) if spec.ignored else {}),
        split_rule=(f'blocks of photos whose names share the prefix and '
                    f'number // {spec.block}, drawn with the seed, form the '
                    f'test part until it holds >= {TEST_FRACTION:.0%} of '
                    'the photos; the rest is the adaptation pool'),
        seed=seed, test=splits['test'])
    with open(osp.join(staging, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    shutil.rmtree(site_dir, ignore_errors=True)
    os.replace(staging, site_dir)
    return manifest


def main(spec: SiteSource, doc: str, argv=None) -> dict:
    """The command line of one site's converter."""
    parser = argparse.ArgumentParser(
        description=doc.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split('\n', 1)[1])
    parser.add_argument('--source', required=True,
                        help=f'a checkout or extracted archive of '
                        f'{spec.repository}')
    parser.add_argument('--out', default='data/crack_sets')
    parser.add_argument('--seed', type=int, default=0,
                        help='draws the test blocks')
    parser.add_argument('--commit',
                        help='the source commit (read from the checkout '
                        'when --source is one)')
    args = parser.parse_args(argv)
    manifest = build(spec, args.source, args.out, args.seed, args.commit)
    print(f'{spec.site}: {manifest["pairs"]} pairs, train '
          f'{manifest["counts"]["train"]}, test {manifest["counts"]["test"]}')
    if manifest['pairs'] != spec.expected_pairs:
        print(f'{spec.site}: the source is documented to hold '
              f'{spec.expected_pairs} pairs, found {manifest["pairs"]}')
    print(f'wrote {osp.join(args.out, spec.site, "manifest.json")}')
    return manifest
