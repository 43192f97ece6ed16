import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from crackdino_mm.datasets import binarize_crack_mask

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(type='PackSegInputs')
]


def write_split(root, masks, size=(40, 60), img_suffix='.jpg'):
    """Images and masks (name -> mask array or None for no mask)."""
    (root / 'img').mkdir(parents=True, exist_ok=True)
    (root / 'lab').mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (mask, suffix) in masks.items():
        cv2.imwrite(str(root / 'img' / (name + img_suffix)),
                    rng.integers(0, 255, (*size, 3), dtype=np.uint8))
        if mask is not None:
            params = [cv2.IMWRITE_JPEG_QUALITY, 60] if suffix == '.jpg' else []
            cv2.imwrite(str(root / 'lab' / (name + suffix)), mask, params)


def build(root, **kwargs):
    return DATASETS.build(
        dict(type='DeepCrackDataset', data_root=str(root),
             data_prefix=dict(img_path='img', seg_map_path='lab'),
             pipeline=PIPELINE, **kwargs))


def line_mask(size=(40, 60), value=255):
    mask = np.zeros(size, np.uint8)
    mask[18:22, 5:55] = value
    return mask


def test_every_mask_encoding_loads_as_clean_binary(tmp_path):
    truth = line_mask(value=1)
    rgb = cv2.cvtColor(line_mask(), cv2.COLOR_GRAY2BGR)
    rgba = np.dstack([rgb, np.full((40, 60), 255, np.uint8)])
    write_split(tmp_path, {
        'a_0_255': (line_mask(), '.png'),
        'b_0_1': (line_mask(value=1), '.png'),
        'c_jpeg': (line_mask(), '.jpg'),
        'd_rgb': (rgb, '.png'),
        'e_rgba': (rgba, '.png'),
        'f_16bit': (line_mask().astype(np.uint16) * 257, '.png'),
        'g_16bit_0_255': (line_mask().astype(np.uint16), '.png'),
    })
    noisy = cv2.imread(str(tmp_path / 'lab' / 'c_jpeg.jpg'), 0)
    assert len(np.unique(noisy)) > 2  # really has compression noise
    dataset = build(tmp_path)
    assert len(dataset) == 7
    for i in range(len(dataset)):
        labels = dataset[i]['data_samples'].gt_sem_seg.data[0].numpy()
        assert np.array_equal(labels, truth), dataset[i]['data_samples'] \
            .seg_map_path


def ignore_masks():
    """A line of crack, a patch to ignore, the labels they mean."""
    truth = line_mask(value=1)
    truth[2:8, 2:8] = 255
    native = truth.copy()
    grey = line_mask()
    grey[2:8, 2:8] = 128
    return truth, native, grey


@pytest.mark.parametrize('encoding', ['native_0_1_255', 'grey_128'])
def test_ignore_encodings_load_as_ignore_index(tmp_path, encoding):
    truth, native, grey = ignore_masks()
    write_split(tmp_path, {'a': ({'native_0_1_255': native,
                                  'grey_128': grey}[encoding], '.png')})
    labels = build(tmp_path)[0]['data_samples'].gt_sem_seg.data[0].numpy()
    assert np.array_equal(labels, truth)


def test_ignore_grey_marks_a_photo_without_crack():
    mask = np.zeros((6, 6), np.uint8)
    mask[:2] = 128
    labels = binarize_crack_mask(mask)
    assert (labels[:2] == 255).all() and (labels[2:] == 0).all()


def test_noisy_jpeg_0_255_mask_gets_no_ignore(tmp_path):
    """A 0/255 JPEG mask holds 1s and 128s among many other values: it
    stays 0/1, never read as an ignore encoding."""
    write_split(tmp_path, {'c_jpeg': (line_mask(), '.jpg')})
    noisy = cv2.imread(str(tmp_path / 'lab' / 'c_jpeg.jpg'), 0)
    assert len(np.unique(noisy)) > 3
    noisy[0, 0], noisy[0, 1] = 1, 128
    labels = binarize_crack_mask(noisy)
    assert set(np.unique(labels)) == {0, 1}
    assert np.array_equal(labels, noisy > 127)


def test_one_error_lists_every_problem(tmp_path):
    write_split(tmp_path, {
        'ok': (line_mask(), '.png'),
        'no_mask': (None, '.png'),
        'broken': (line_mask(), '.png'),
    })
    cv2.imwrite(str(tmp_path / 'lab' / 'orphan.png'), line_mask())
    (tmp_path / 'img' / 'broken.jpg').write_bytes(b'\xff\xd8 not a jpeg')
    with pytest.raises(ValueError) as error:
        build(tmp_path)
    text = str(error.value)
    assert '3 problem(s)' in text
    assert 'no_mask.jpg has no mask' in text
    assert 'orphan.png has no image' in text
    assert 'broken.jpg cannot be decoded' in text


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match='image folder .*img does not'):
        build(tmp_path / 'nowhere')
    (tmp_path / 'img').mkdir()
    (tmp_path / 'lab').mkdir()
    with pytest.raises(ValueError, match='no image in .*img'):
        build(tmp_path)


def test_mask_of_another_size_is_an_error(tmp_path):
    write_split(tmp_path, {'a': (line_mask(size=(30, 60)), '.png')})
    dataset = build(tmp_path)
    with pytest.raises(ValueError, match='a.png is 60x30 but image'):
        dataset[0]


def test_binarize_rejects_unreadable_masks():
    with pytest.raises(OSError, match='m.png'):
        binarize_crack_mask(None, 'm.png')


def test_real_deepcrack(deepcrack_root):
    counts, crack, total = {}, 0, 0
    for split in ('train', 'test'):
        dataset = DATASETS.build(
            dict(type='DeepCrackDataset', data_root=deepcrack_root,
                 data_prefix=dict(img_path=f'{split}_img',
                                  seg_map_path=f'{split}_lab'),
                 pipeline=PIPELINE))
        counts[split] = len(dataset)
        for i in range(0, len(dataset), 20):  # a sample through the pipeline
            labels = dataset[i]['data_samples'].gt_sem_seg.data
            assert set(labels.unique().tolist()) <= {0, 1}
        for path in glob.glob(osp.join(deepcrack_root, f'{split}_lab', '*')):
            mask = binarize_crack_mask(cv2.imread(path, cv2.IMREAD_UNCHANGED))
            crack += int(mask.sum())
            total += mask.size
    assert counts == {'train': 300, 'test': 237}
    assert 0.03 <= crack / total <= 0.04


def test_validation_split_is_held_out_by_source_photo(deepcrack_root):
    """The 30 validation images and the 270 training images partition the
    300, no source photo (name before '-') has crops on both sides, and
    the configs read them."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '..', 'configs',
                                   '_base_', 'datasets', 'deepcrack.py'))
    keys = {}
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = dict(cfg[loader].dataset, data_root=deepcrack_root,
                       pipeline=PIPELINE)
        built = DATASETS.build(dataset)
        keys[loader] = {osp.splitext(osp.basename(
            built.get_data_info(i)['img_path']))[0]
            for i in range(len(built))}
    train, val = keys['train_dataloader'], keys['val_dataloader']
    assert (len(train), len(val)) == (270, 30)
    every = {osp.splitext(f)[0] for f in os.listdir(
        osp.join(deepcrack_root, 'train_img'))}
    assert train | val == every
    assert not {k.split('-')[0] for k in train} & \
        {k.split('-')[0] for k in val}
    assert 'test_img' in cfg.test_dataloader.dataset.data_prefix.img_path
