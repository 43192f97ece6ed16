import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS
from scipy import ndimage

from crackdino_mm.datasets import SyntheticCrackDataset

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def build(seed=0, num_samples=6, img_size=(160, 192), **kwargs):
    return DATASETS.build(
        dict(
            type='SyntheticCrackDataset',
            num_samples=num_samples,
            img_size=img_size,
            seed=seed,
            pipeline=[dict(type='PackSegInputs')],
            **kwargs))


def skeleton(mask):
    """Morphological skeleton (Lantuejoul) of a 0/1 mask."""
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    img = mask.copy()
    skel = np.zeros_like(mask)
    while img.any():
        eroded = cv2.erode(img, kernel)
        skel |= img & ~cv2.dilate(eroded, kernel)
        img = eroded
    return skel


def test_deterministic_by_seed_and_index():
    a, b, c = build(seed=5), build(seed=5), build(seed=6)
    img_a, mask_a = a.render(3)
    img_b, mask_b = b.render(3)
    img_c, _ = c.render(3)
    assert np.array_equal(img_a, img_b) and np.array_equal(mask_a, mask_b)
    assert not np.array_equal(img_a, img_c)
    assert not np.array_equal(img_a, a.render(4)[0])


def test_samples_are_packed_with_binary_labels():
    dataset = build(img_size=(160, 192))
    assert len(dataset) == 6
    assert dataset.metainfo['classes'] == ('background', 'crack')
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 160, 192)
    labels = sample['data_samples'].gt_sem_seg.data
    assert set(labels.unique().tolist()) <= {0, 1}
    assert sample['data_samples'].img_path.startswith('synthetic_s0_')


def test_cracks_are_thin_branching_and_tortuous():
    dataset = build(num_samples=24, img_size=(256, 256))
    fractions, max_widths, median_widths = [], [], []
    branch_points, tortuosity = 0, []
    for i in range(len(dataset)):
        img, mask = dataset.render(i)
        assert img.dtype == np.uint8 and img.shape == (256, 256, 3)
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
        fractions.append(mask.mean())
        # Width at a centre-line pixel: 2 * distance to background - 1.
        dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
        skel = skeleton(mask).astype(bool)
        widths = 2 * dist[skel] - 1
        max_widths.append(np.percentile(widths, 90))
        median_widths.append(np.median(widths))
        neighbours = ndimage.convolve(
            skel.astype(int), np.ones((3, 3), int), mode='constant') - 1
        branch_points += int((skel & (neighbours >= 3)).sum())
        labels, count = ndimage.label(skel, np.ones((3, 3)))
        for k in range(1, count + 1):
            ys, xs = np.nonzero(labels == k)
            if len(ys) < 40:
                continue
            extent = np.hypot(np.ptp(ys), np.ptp(xs))
            tortuosity.append(len(ys) / max(extent, 1.0))
    fractions = np.array(fractions)
    # Cracks are a small share of the pixels, as in real photos.
    assert fractions.min() > 0.002 and fractions.max() < 0.15
    # Thin: along the centre lines widths stay within the configured 8 px
    # (+1 px of rasterisation; crossings and junctions are wider, hence the
    # 90th percentile), and many images are mostly thinner than 5 px.
    assert max(max_widths) <= 9
    assert np.mean(np.array(median_widths) < 5) > 0.3
    # Branching somewhere in the split, and paths clearly not straight.
    assert branch_points > 0
    assert np.median(tortuosity) > 1.1


def test_background_has_texture_and_illumination():
    dataset = build(num_samples=8, img_size=(192, 192))
    for i in range(len(dataset)):
        img, mask = dataset.render(i)
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(float)
        background = grey[cv2.dilate(mask, np.ones((9, 9))) == 0]
        assert background.std() > 3  # not a flat fill
        # Cracks are darker than their surroundings on average.
        assert grey[mask == 1].mean() < background.mean()


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_samples'):
        SyntheticCrackDataset(num_samples=0, pipeline=[])
    with pytest.raises(ValueError, match='img_size'):
        SyntheticCrackDataset(img_size=(10, 10), pipeline=[])


def test_make_synthetic_dataset_writes_deepcrack_layout(tmp_path):
    out = tmp_path / 'synth'
    subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'make_synthetic_dataset.py'), '--out',
        str(out), '--num-train', '3', '--num-test', '2', '--size', '96', '128'
    ], check=True, capture_output=True)
    for split, count in (('train', 3), ('test', 2)):
        imgs = sorted((out / f'{split}_img').glob('*.jpg'))
        labs = sorted((out / f'{split}_lab').glob('*.png'))
        assert len(imgs) == len(labs) == count
        assert [p.stem for p in imgs] == [p.stem for p in labs]
        lab = cv2.imread(str(labs[0]), cv2.IMREAD_UNCHANGED)
        assert lab.ndim == 2 and set(np.unique(lab)) <= {0, 255}
        assert (lab == 255).any()
        assert cv2.imread(str(imgs[0])).shape == (96, 128, 3)
    # Same pixels as the in-memory dataset (masks are lossless).
    _, mask = build(seed=1, num_samples=2, img_size=(96, 128)).render(1)
    lab = cv2.imread(str(out / 'test_lab' / '00001.png'), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(lab // 255, mask)
