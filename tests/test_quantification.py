import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest

from crackdino_mm.inspection.quantification import (
    measure_each_crack, skeletonize, width_class_names, width_classes)


def measure_cracks(mask, **kwargs):
    """All cracks of a mask together: the photo's row of measurements."""
    return measure_each_crack(mask, **kwargs).summary()


def band(points, width, shape=(400, 500)):
    """A crack of known centre line and width: every pixel within width/2
    of the polyline (computed exactly, not with an OpenCV brush). Widths are
    odd so that an axis-aligned band is exactly that many pixels across."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    dist = np.full(shape, np.inf)
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy),
                    0, 1)
        dist = np.minimum(dist, np.hypot(xx - x0 - t * dx, yy - y0 - t * dy))
    return (dist <= width / 2).astype(np.uint8)


def polyline_length(points):
    return sum(np.hypot(x1 - x0, y1 - y0)
               for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]))


CASES = {
    'horizontal': [(60, 200), (440, 200)],
    'diagonal': [(50, 50), (350, 350)],
    'slanted': [(30, 300), (470, 110)],
    'zigzag': [(30, 40), (150, 300), (260, 80), (420, 330)],
}


@pytest.mark.parametrize('name', CASES)
@pytest.mark.parametrize('width', [5, 7, 11])
def test_length_and_width_within_ten_percent(name, width):
    points = CASES[name]
    mask = band(points, width)
    result = measure_cracks(mask)
    true_length = polyline_length(points) + width  # round caps at both ends
    assert result.length == pytest.approx(true_length, rel=0.1)
    assert result.mean_width == pytest.approx(width, rel=0.1)
    if len(points) == 2:
        assert result.max_width == pytest.approx(width, rel=0.1)
    else:  # sharp bends are genuinely wider than the band
        assert result.max_width >= 0.9 * width
    assert result.num_cracks == 1
    assert result.area == mask.sum()


@pytest.mark.parametrize('name', CASES)
@pytest.mark.parametrize('width', [1, 3])
def test_hairline_cracks_within_a_pixel(name, width):
    """Below 5 px a slanted digital band cannot have the exact width (at
    45 degrees a band of width 3 is 5 pixels across a row, i.e. 3.5 wide):
    widths are then right to within one pixel, lengths still to 10 %."""
    points = CASES[name]
    result = measure_cracks(band(points, width))
    assert result.length == pytest.approx(
        polyline_length(points) + width, rel=0.1)
    assert abs(result.mean_width - width) <= 1.0
    assert result.num_cracks == 1


def test_arc():
    yy, xx = np.mgrid[0:400, 0:400]
    radius = np.hypot(yy - 200, xx - 200)
    mask = ((np.abs(radius - 150) <= 2.5) & (yy <= 200)).astype(np.uint8)
    result = measure_cracks(mask)
    assert result.length == pytest.approx(np.pi * 150 + 5, rel=0.1)
    assert result.mean_width == pytest.approx(5, rel=0.1)


def test_counts_separate_cracks_and_drops_noise():
    mask = band([(20, 50), (300, 60)], 4) | band([(50, 300), (450, 250)], 6)
    mask[380:382, 480:482] = 1  # a 4-pixel speck
    assert measure_cracks(mask).num_cracks == 3
    result = measure_cracks(mask, min_area=10)
    assert result.num_cracks == 2
    assert result.area == mask.sum() - 4
    # The pieces left out are marked, to be drawn apart.
    speck = np.zeros_like(mask, bool)
    speck[380:382, 480:482] = True
    np.testing.assert_array_equal(
        measure_each_crack(mask, min_area=10).dropped, speck)
    assert not measure_each_crack(mask).dropped.any()


def test_columns_carry_units_and_round():
    mask = band([(60, 200), (440, 200)], 5)
    columns = measure_cracks(mask, mm_per_pixel=0.1).as_columns()
    assert list(columns) == ['area_mm2', 'length_mm', 'mean_width_mm',
                             'max_width_mm', 'num_cracks']
    assert all(len(repr(v)) <= 10 for v in columns.values())
    assert list(measure_cracks(mask).as_columns())[0] == 'area_px2'


def test_millimetres():
    mask = band([(60, 200), (440, 200)], 5)
    px = measure_cracks(mask)
    mm = measure_cracks(mask, mm_per_pixel=0.2)
    assert mm.unit == 'mm' and px.unit == 'px'
    assert mm.length == pytest.approx(px.length * 0.2)
    assert mm.max_width == pytest.approx(px.max_width * 0.2)
    assert mm.area == pytest.approx(px.area * 0.04)
    with pytest.raises(ValueError, match='mm_per_pixel'):
        measure_cracks(mask, mm_per_pixel=0)


def test_mask_that_is_all_crack_has_finite_width():
    result = measure_cracks(np.ones((40, 60), np.uint8))
    assert result.area == 40 * 60 and result.num_cracks == 1
    assert abs(result.max_width - 40) <= 2
    assert 40 <= result.length <= 80


def test_crack_cut_by_both_borders():
    mask = band([(0, 200), (499, 200)], 7)
    result = measure_cracks(mask)
    assert result.length == pytest.approx(500, rel=0.1)
    assert result.max_width == pytest.approx(7, rel=0.1)


def test_empty_mask():
    result = measure_cracks(np.zeros((50, 60), np.uint8))
    assert (result.area, result.length, result.mean_width, result.max_width,
            result.num_cracks) == (0, 0, 0, 0, 0)


def test_skeleton_is_thin_and_connected():
    mask = band(CASES['zigzag'], 9)
    skel = skeletonize(mask)
    assert skel.sum() < mask.sum() / 5
    assert cv2.connectedComponents(skel, connectivity=8)[0] == 2
    # No 2x2 block survives: the skeleton is one pixel wide.
    blocks = skel[:-1, :-1] & skel[1:, :-1] & skel[:-1, 1:] & skel[1:, 1:]
    assert not blocks.any()


def test_skeleton_keeps_two_pixel_thick_diagonal():
    """A 45-degree line two pixels thick (a 4-connected staircase) stays a
    line: plain Zhang-Suen erodes it from its ends until nothing is left."""
    mask = np.zeros((120, 120), np.uint8)
    for i in range(10, 110):
        mask[i, i:i + 2] = 1
    skel = skeletonize(mask)
    assert skel.sum() >= 95
    assert measure_cracks(mask).length == pytest.approx(100 * np.sqrt(2),
                                                        rel=0.05)


# Per crack: every drawn crack alone, then several in one mask.

def only_crack(mask, **kwargs):
    table = measure_each_crack(mask, **kwargs)
    assert len(table) == 1
    return table.data[0]


def assert_widths(crack, width, max_too=True):
    assert crack['mean_width'] == pytest.approx(width, rel=0.1)
    assert crack['median_width'] == pytest.approx(width, rel=0.1)
    if max_too:
        assert crack['max_width'] == pytest.approx(width, rel=0.1)


@pytest.mark.parametrize('angle', [0, 20, 45, 72, 90, 135])
@pytest.mark.parametrize('width', [5, 7, 11])
def test_each_crack_straight(angle, width):
    centre = np.array([250.3, 200.6])
    half = 170 * np.array([np.cos(np.radians(angle)),
                           -np.sin(np.radians(angle))])  # y points down
    mask = band([centre - half, centre + half], width)
    crack = only_crack(mask)
    assert_widths(crack, width)
    assert crack['length'] == pytest.approx(340 + width, rel=0.1)
    assert abs((crack['orientation'] - angle + 90) % 180 - 90) < 2
    ys, xs = np.nonzero(mask)
    assert (crack['box_x'], crack['box_y']) == (xs.min(), ys.min())
    assert crack['box_w'] == xs.max() - xs.min() + 1
    assert crack['box_h'] == ys.max() - ys.min() + 1
    assert crack['area'] == mask.sum()
    assert mask[crack['max_y'], crack['max_x']]


@pytest.mark.parametrize('width', [1, 2, 3, 4, 6])
@pytest.mark.parametrize('vertical', [False, True])
def test_thin_cracks_measure_their_pixels_across(width, vertical):
    """Twice the distance alone would read an even width one pixel short
    (a 2-pixel crack as 1): the tent reading gives every width exactly."""
    mask = np.zeros((200, 300), np.uint8)
    mask[90:90 + width, 40:260] = 1
    if vertical:
        mask = np.ascontiguousarray(mask.T)
    crack = only_crack(mask)
    assert crack['median_width'] == pytest.approx(width)
    assert crack['mean_width'] == pytest.approx(width, rel=0.02)
    assert crack['max_width'] == pytest.approx(width, abs=0.5)
    assert crack['length'] == pytest.approx(220, rel=0.05)
    assert crack['orientation'] == pytest.approx(90 if vertical else 0)


@pytest.mark.parametrize('angle', [15, 30, 45, 60])
@pytest.mark.parametrize('width', [2, 3])
def test_slanted_hairlines_within_a_pixel(angle, width):
    centre = np.array([250.0, 200.0])
    half = 150 * np.array([np.cos(np.radians(angle)),
                           np.sin(np.radians(angle))])
    crack = only_crack(band([centre - half, centre + half], width))
    assert abs(crack['median_width'] - width) <= 0.75
    assert crack['length'] == pytest.approx(300 + width, rel=0.1)


@pytest.mark.parametrize('width', [5, 9])
def test_each_crack_curved(width):
    yy, xx = np.mgrid[0:400, 0:500]
    radius = np.hypot(yy - 220, xx - 250)
    mask = ((np.abs(radius - 150) <= width / 2) & (yy <= 220)).astype(
        np.uint8)
    crack = only_crack(mask)
    assert_widths(crack, width)
    assert crack['length'] == pytest.approx(np.pi * 150 + width, rel=0.1)
    assert crack['orientation'] == pytest.approx(0, abs=2)


def test_each_crack_zigzag():
    points = CASES['zigzag']
    crack = only_crack(band(points, 7))
    assert_widths(crack, 7, max_too=False)
    assert crack['max_width'] >= 0.9 * 7  # sharp bends are wider
    assert crack['length'] == pytest.approx(polyline_length(points) + 7,
                                            rel=0.1)


BRANCHES = {
    # A T: where the stem meets the bar, the largest inscribed disc is
    # 1.25 times the width; at the cross, 1.41 times.
    'T': [[(60, 150), (440, 150)], [(250, 150), (250, 350)]],
    'Y': [[(250, 200), (80, 60)], [(250, 200), (440, 90)],
          [(250, 200), (260, 380)]],
    'cross': [[(60, 200), (440, 200)], [(250, 30), (250, 370)]],
}


@pytest.mark.parametrize('shape', BRANCHES)
@pytest.mark.parametrize('width', [5, 9])
def test_each_crack_branching(shape, width):
    """A branching crack is one crack whose length is all its branches'
    and whose widths, the maximum included, are the branches' widths."""
    arms = BRANCHES[shape]
    mask = np.zeros((400, 500), np.uint8)
    for arm in arms:
        mask |= band(arm, width)
    crack = only_crack(mask)
    assert_widths(crack, width)
    # Each free end has a round cap of half the width.
    free_ends = {'T': 3, 'Y': 3, 'cross': 4}[shape]
    true_length = sum(polyline_length(arm) for arm in arms) + (
        free_ends * width / 2) - {'T': width / 2, 'Y': 0, 'cross': 0}[shape]
    assert crack['length'] == pytest.approx(true_length, rel=0.1)


@pytest.mark.parametrize('width', [5, 7])
def test_each_crack_touching_the_border(width):
    """Cut by the left border: measured up to the border, where the box
    starts, at its full width."""
    mask = band([(-60, 100), (300, 250)], width)
    crack = only_crack(mask)
    assert crack['box_x'] == 0
    inside = polyline_length([(0, 100 + 150 * 60 / 360), (300, 250)])
    assert crack['length'] == pytest.approx(inside + width / 2, rel=0.1)
    assert_widths(crack, width)


def test_each_crack_in_one_mask_and_noise_dropped():
    """Cracks numbered in order of their first row, each with its own
    width; a short piece is noise under a minimum length, a speck under a
    minimum area."""
    mask = (band([(40, 300), (460, 340)], 9) |
            band([(60, 40), (420, 120)], 3) |
            band([(200, 200), (214, 200)], 3))  # 17 px long
    mask[380:382, 480:482] = 1  # a 2x2 speck, erased whole by thinning
    table = measure_each_crack(mask)
    assert list(table.data['id']) == [1, 2, 3, 4]
    thin, short, wide, speck = table.data
    assert_widths(thin, 3)
    assert_widths(wide, 9)
    assert short['length'] == pytest.approx(17, rel=0.1)
    assert speck['area'] == 4 and speck['length'] >= 1
    assert speck['max_width'] == pytest.approx(2)
    assert table.data['area'].sum() == mask.sum()
    kept = measure_each_crack(mask, min_length=20, min_area=5)
    assert list(kept.data['id']) == [1, 2]
    assert list(kept.data['length']) == [thin['length'], wide['length']]
    longer = measure_each_crack(mask, min_length=10).data['length']
    assert list(longer) == [thin['length'], short['length'], wide['length']]
    assert len(measure_each_crack(mask, min_area=5)) == 3


def test_each_crack_in_millimetres_and_summary():
    mask = band([(40, 300), (460, 340)], 9) | band([(60, 40), (420, 120)], 3)
    px = measure_each_crack(mask)
    mm = measure_each_crack(mask, mm_per_pixel=0.1)
    assert (px.unit, mm.unit) == ('px', 'mm')
    for name in ('length', 'mean_width', 'median_width', 'max_width'):
        np.testing.assert_allclose(mm.data[name], px.data[name] * 0.1)
    np.testing.assert_allclose(mm.data['area'], px.data['area'] * 0.01)
    for name in ('box_x', 'box_y', 'box_w', 'box_h', 'max_x', 'max_y',
                 'orientation'):
        np.testing.assert_array_equal(mm.data[name], px.data[name])
    rows = list(mm.rows())
    assert rows[0]['unit'] == 'mm' and type(rows[0]['max_x']) is int
    total = measure_cracks(mask, mm_per_pixel=0.1)
    assert total.num_cracks == 2
    assert total.length == pytest.approx(mm.data['length'].sum())
    assert total.max_width == pytest.approx(mm.data['max_width'].max())
    # The photo's mean width is its cracks', weighted by their lengths.
    assert total.mean_width == pytest.approx(
        (mm.data['mean_width'] * mm.data['length']).sum() / total.length)
    with pytest.raises(ValueError, match='mm_per_pixel'):
        measure_each_crack(mask, mm_per_pixel=-1)
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        measure_each_crack(np.zeros((4, 4, 3)))


def random_mask(rng, size=48):
    """Tiny blobs of 1-10 pixels (random walks), lines 1-7 pixels wide,
    and a thresholded smooth noise field, in random combination."""
    mask = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(0, 6)):
        y, x = rng.integers(0, size, 2)
        for _ in range(rng.integers(1, 11)):
            mask[y, x] = 1
            y = int(np.clip(y + rng.integers(-1, 2), 0, size - 1))
            x = int(np.clip(x + rng.integers(-1, 2), 0, size - 1))
    for _ in range(rng.integers(0, 3)):
        ends = [tuple(int(v) for v in rng.integers(0, size, 2))
                for _ in range(2)]
        cv2.line(mask, *ends, 1, int(rng.integers(1, 8)))
    if rng.random() < 0.3:
        noise = cv2.GaussianBlur(rng.random((size, size)), (0, 0), 2)
        mask |= (noise > np.quantile(noise, 0.8)).astype(np.uint8)
    return mask


def test_widths_agree_on_random_masks():
    """One definition of width: every crack's and every photo's mean and
    median lie within its widths (at most the maximum), and the photo's
    figures are derived from its cracks'."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        table = measure_each_crack(random_mask(rng))
        data, total = table.data, table.summary()
        assert (data['mean_width'] > 0).all()
        assert (data['mean_width'] <= data['max_width'] + 1e-6).all()
        assert (data['median_width'] <= data['max_width'] + 1e-6).all()
        if not len(table):
            assert total.mean_width == total.max_width == 0
            continue
        assert total.mean_width == pytest.approx(
            np.average(data['mean_width'], weights=data['length']))
        assert total.max_width == data['max_width'].max()
        assert data['mean_width'].min() - 1e-6 <= total.mean_width \
            <= total.max_width + 1e-6


def test_each_crack_of_an_empty_mask():
    table = measure_each_crack(np.zeros((30, 40), np.uint8))
    assert len(table) == 0 and list(table.rows()) == []
    assert table.summary().num_cracks == 0


def test_width_classes():
    limits = [0.1, 0.3]
    classes = width_classes([0.05, 0.1, 0.2, 0.3, 0.5], limits)
    assert list(classes) == [0, 1, 1, 2, 2]
    assert width_class_names(limits, 'mm') == [
        '< 0.1 mm', '0.1-0.3 mm', '>= 0.3 mm']
    for bad in ([0.3, 0.1], [0, 0.2], [0.2, 0.2]):
        with pytest.raises(ValueError, match='increasing'):
            width_classes([0.1], bad)


def test_readme_width_limits_split_real_cracks(deepcrack_root):
    """The README's example limits, at its scale, put a good share of
    DeepCrack's ground-truth cracks in every class."""
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    readme = open(osp.join(repo, 'README.md')).read()
    example = readme[readme.index('python tools/infer.py'):]
    scale = float(re.search(r'--mm-per-pixel ([\d.]+)', example).group(1))
    limits = [float(v) for v in re.search(
        r'--width-limits ([\d.]+) ([\d.]+)', example).groups()]
    labels = osp.join(deepcrack_root, 'test_lab')
    widths = []
    for name in sorted(os.listdir(labels))[::3]:
        mask = cv2.imread(osp.join(labels, name), 0) > 127
        widths += measure_each_crack(mask, scale,
                                     min_length=20).data['max_width'].tolist()
    counts = np.bincount(width_classes(widths, limits), minlength=3)
    assert (counts > 0.2 * len(widths)).all(), counts
