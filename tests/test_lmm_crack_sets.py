"""The crack-set builder on a small fake copy of the source layout."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from script_modules import script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def lmm():
    return script_module('tools/dataset_converters/lmm_crack_sets.py')


def fake_source(root, sets, counts=dict(train=3, valid=1, test=2)):
    rng = np.random.default_rng(0)
    for name in sets:
        for split, count in counts.items():
            for i in range(count):
                for folder, array in (
                        (split, rng.integers(0, 255, (20, 24, 3), np.uint8)),
                        (split + '_lab', np.where(
                            rng.random((20, 24)) < 0.1, 255, 0).astype(
                                np.uint8))):
                    path = root / 'Datasets' / name / folder
                    path.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(path / f'{name}-{i}.jpg'), array)
    return root


def test_builds_every_set_but_deepcrack_with_counts(tmp_path, lmm):
    source = fake_source(tmp_path / 'src', list(lmm.SETS) + ['DeepCrack'])
    out = tmp_path / 'out'
    manifest = lmm.build(str(source), str(out))
    assert sorted(manifest['counts']) == sorted(lmm.SETS)
    assert manifest['counts']['GAPs384'] == dict(train=3, valid=1, test=2)
    assert manifest['source'] == lmm.SOURCE_REPOSITORY
    assert not (out / 'DeepCrack').exists()
    assert json.loads((out / 'manifest.json').read_text()) == manifest
    # The layout is DeepCrack's: a dataset switches by data_root alone.
    dataset = DATASETS.build(dict(
        type='CrackFolderDataset', data_root=str(out / 'ShadowCrack'),
        data_prefix=dict(img_path='test_img', seg_map_path='test_lab'),
        pipeline=[]))
    assert len(dataset) == 2


def test_refuses_deepcrack(tmp_path, lmm):
    source = fake_source(tmp_path / 'src', ['DeepCrack'])
    with pytest.raises(ValueError, match='DeepCrack test images'):
        lmm.build(str(source), str(tmp_path / 'out'), sets=['DeepCrack'])


def test_lists_every_problem_and_writes_nothing(tmp_path, lmm):
    source = fake_source(tmp_path / 'src', ['GAPs384'])
    (source / 'Datasets/GAPs384/test_lab/GAPs384-0.jpg').unlink()
    (source / 'Datasets/GAPs384/valid/GAPs384-0.jpg').unlink()
    out = tmp_path / 'out'
    with pytest.raises(ValueError) as error:
        lmm.build(str(source), str(out), sets=['GAPs384'])
    message = str(error.value)
    assert 'test/GAPs384-0.jpg has no mask' in message
    assert 'valid_lab/GAPs384-0.jpg has no image' in message
    assert not out.exists()


def test_source_without_datasets_folder_is_named(tmp_path, lmm):
    with pytest.raises(FileNotFoundError, match='no Datasets/ folder'):
        lmm.build(str(tmp_path), str(tmp_path / 'out'))
