import cv2
import numpy as np
import pytest

from crackdino_mm.quantification import measure_cracks, skeletonize


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
