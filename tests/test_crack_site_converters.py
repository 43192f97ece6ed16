"""The four site converters on a few synthetic files in each source's
layout."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from crackdino_mm.datasets import binarize_crack_mask
from script_modules import script_module

COMMON = script_module('tools/dataset_converters/crack_site_sources.py')
COMMIT = 'c' * 40


def converter(name):
    return script_module(f'tools/dataset_converters/{name}.py').SPEC


def write_pair(root, spec, key, img, mask, img_ext='.png'):
    for folder, name, array in ((spec.images, key + img_ext, img),
                                (spec.masks, key + spec.mask_suffix, mask)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / folder / name), array)


def noise(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 255, shape, np.uint8)


def read_mask(path):
    return binarize_crack_mask(cv2.imread(str(path), cv2.IMREAD_UNCHANGED))


def test_paveseg_classes_map_to_crack_background_and_ignore(tmp_path):
    spec = converter('paveseg')
    classes = np.array([[0, 30, 60, 90], [120, 150, 180, 210]], np.uint8)
    mask = np.repeat(np.repeat(classes, 4, 0), 4, 1)
    for i in range(0, 50, 10):  # five blocks of ten frames
        write_pair(tmp_path / 'src', spec, f'{i:06d}', noise((8, 16, 3), i),
                   cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR), '.jpg')
    manifest = COMMON.build(spec, str(tmp_path / 'src'),
                            str(tmp_path / 'out'), commit=COMMIT)
    site = tmp_path / 'out' / 'PaveSeg'
    split = 'test' if '000000' in manifest['test'] else 'train'
    label = read_mask(site / f'{split}_lab' / '000000.png')
    # Sealed crack (90) is ignored: neither crack nor background.
    expected = np.isin(mask, (30, 150)).astype(np.uint8)
    expected[mask == 90] = 255
    np.testing.assert_array_equal(label, expected)
    assert manifest['ignored_pixels'][split] == \
        (mask == 90).sum() * manifest['counts'][split]
    assert manifest['commit'] == COMMIT
    assert manifest['source'] == 'FuturePave/PaveSeg-Dataset'
    assert json.loads((site / 'manifest.json').read_text()) == manifest
    # The layout is the other sites': a dataset reads it by data_root.
    dataset = DATASETS.build(dict(
        type='CrackFolderDataset', data_root=str(site),
        data_prefix=dict(img_path='train_img', seg_map_path='train_lab'),
        pipeline=[]))
    assert len(dataset) == manifest['counts']['train']


def test_paveseg_unknown_value_names_the_file(tmp_path):
    spec = converter('paveseg')
    mask = np.full((8, 8, 3), 45, np.uint8)
    write_pair(tmp_path / 'src', spec, '000001', noise((8, 8, 3)), mask)
    write_pair(tmp_path / 'src', spec, '000051', noise((8, 8, 3)), 0 * mask)
    with pytest.raises(ValueError, match=r'000001_mask\.png: grey value\(s\)'
                       r' \[45\] are no PaveSeg class'):
        COMMON.build(spec, str(tmp_path / 'src'), str(tmp_path / 'out'),
                     commit=COMMIT)
    assert not any((tmp_path / 'out').iterdir())  # nothing half-written


def test_ceramic_rgba_image_to_rgb_and_soft_mask_at_half(tmp_path):
    spec = converter('ceramic_tiles')
    rgba = noise((6, 6, 4))
    rgba[..., 3] = 200
    soft = np.tile(np.array([0, 100, 127, 128, 200, 255], np.uint8), (6, 1))
    for key in ('001', '051'):
        write_pair(tmp_path / 'src', spec, key, rgba,
                   cv2.cvtColor(soft, cv2.COLOR_GRAY2BGR))
    manifest = COMMON.build(spec, str(tmp_path / 'src'),
                            str(tmp_path / 'out'), commit=COMMIT)
    split = 'test' if '001' in manifest['test'] else 'train'
    site = tmp_path / 'out' / 'CeramicTiles'
    img = cv2.imread(str(site / f'{split}_img' / '001.png'),
                     cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(img, rgba[..., :3])
    np.testing.assert_array_equal(
        read_mask(site / f'{split}_lab' / '001.png'), soft >= 128)


def test_uav_jpeg_bytes_in_png_are_copied_as_jpeg(tmp_path):
    spec = converter('uav_crack')
    src = tmp_path / 'src'
    for key in ('slide1', 'slide301'):
        write_pair(src, spec, key, noise((16, 16, 3)),
                   np.zeros((16, 16), np.uint8))
    jpeg = cv2.imencode('.jpg', noise((16, 16, 3), 1))[1].tobytes()
    (src / spec.images / 'slide1.png').write_bytes(jpeg)
    manifest = COMMON.build(spec, str(src), str(tmp_path / 'out'),
                            commit=COMMIT)
    split = 'test' if 'slide1' in manifest['test'] else 'train'
    out = tmp_path / 'out' / 'UAV-Crack' / f'{split}_img'
    assert [p.name for p in out.iterdir()] == ['slide1.jpg']
    assert (out / 'slide1.jpg').read_bytes() == jpeg


def test_tile_blocks_never_straddle_the_split():
    keys = [f'slide{n}' for n in range(30, 1000, 3)] + ['DJI0090', 'DJI0690']
    split = COMMON.split_by_blocks(keys, 100, seed=3)
    assert len(split['test']) >= 0.4 * len(keys)
    assert sorted(split['train'] + split['test']) == sorted(keys)

    def blocks(part):
        return {COMMON.block_of(key, 100) for key in part}

    assert not blocks(split['train']) & blocks(split['test'])
    assert COMMON.block_of('slide1399', 100) == ('slide', 13)
    assert split == COMMON.split_by_blocks(keys, 100, seed=3)
    assert split != COMMON.split_by_blocks(keys, 100, seed=4)


def test_missing_mask_and_corrupt_image_are_each_named(tmp_path):
    spec = converter('sut_crack')
    src = tmp_path / 'src'
    for i in (1, 12, 23):
        write_pair(src, spec, str(i), noise((8, 8, 3), i),
                   np.zeros((8, 8, 3), np.uint8), '.jpg')
    (src / spec.masks / '12.png').unlink()
    with pytest.raises(ValueError, match=r'(?s)1 problem.*/12\.jpg has no '
                       'mask'):
        COMMON.build(spec, str(src), str(tmp_path / 'out'), commit=COMMIT)
    (src / spec.images / '12.jpg').unlink()
    (src / spec.images / '23.jpg').write_bytes(b'not an image')
    with pytest.raises(ValueError, match=r'(?s)1 problem.*/23\.jpg cannot '
                       'be decoded'):
        COMMON.build(spec, str(src), str(tmp_path / 'out'), commit=COMMIT)
    assert not any((tmp_path / 'out').iterdir())


def test_forbidden_folder_and_unknown_commit_are_refused(tmp_path):
    spec = converter('sut_crack')
    unified = tmp_path / 'crackseg' / 'data' / 'unified'
    unified.mkdir(parents=True)
    with pytest.raises(ValueError, match='lies in data/unified'):
        COMMON.build(spec, str(unified), str(tmp_path / 'out'),
                     commit=COMMIT)
    with pytest.raises(ValueError, match='give the commit'):
        COMMON.build(spec, str(tmp_path), str(tmp_path / 'out'))
    assert not osp.exists(tmp_path / 'out')
