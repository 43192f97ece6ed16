"""Measurements of predicted crack masks: area, length, width, count.

Length is measured on the one-pixel skeleton (Zhang-Suen thinning, then
pixels that do not carry connectivity removed) as the sum of its 8-connected
links, orthogonal links counting 1 and diagonal links sqrt(2), scaled by
Kulpa's factor 0.948 that removes the bias of this count over orientations. The mean width
is area / length; the maximum width is 2 d - 0.75 for the largest Euclidean
distance d from a skeleton pixel to the background: d reaches the centre of
the first background pixel, half a pixel beyond the edge across an
axis-aligned crack and 0.1-0.3 px beyond it across a slanted one, so
subtracting 0.75 in all keeps the error under half a pixel.
Thinning shortens every free end by about half the local width, which is
added back from the distance transform.
"""
from dataclasses import asdict, dataclass
from typing import Optional

import cv2
import numpy as np


@dataclass
class CrackMeasurements:
    """Crack measurements of one mask, in pixels or in millimetres."""
    area: float
    length: float
    mean_width: float
    max_width: float
    num_cracks: int
    unit: str = 'px'

    def as_dict(self) -> dict:
        return asdict(self)


# Offsets of the 8 neighbours P2..P9, clockwise from north: bit i of a
# pixel's neighbour code is set where neighbour i is foreground.
_RING = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]


def _zhang_suen_deletes(code: int, step: int) -> bool:
    """Whether a Zhang-Suen sub-iteration deletes a pixel of this code."""
    n = [code >> i & 1 for i in range(8)]
    transitions = sum(n[i] == 0 and n[(i + 1) % 8] == 1 for i in range(8))
    if step == 0:
        kept = n[0] * n[2] * n[4] or n[2] * n[4] * n[6]
    else:
        kept = n[0] * n[2] * n[6] or n[0] * n[4] * n[6]
    return 2 <= sum(n) <= 6 and transitions == 1 and not kept


def _ring_is_connected(code: int) -> bool:
    cells = [_RING[i] for i in range(8) if code >> i & 1]
    seen, todo = {cells[0]}, [cells[0]]
    while todo:
        y, x = todo.pop()
        for cell in cells:
            if cell not in seen and max(abs(cell[0] - y),
                                        abs(cell[1] - x)) == 1:
                seen.add(cell)
                todo.append(cell)
    return len(seen) == len(cells)


# For every neighbour code: whether each Zhang-Suen sub-iteration deletes
# the pixel, and whether its neighbours stay one 8-connected piece without
# it. Lookups of uint8 codes keep full-image steps at a byte per pixel.
_DELETES = np.array([[_zhang_suen_deletes(c, step) for c in range(256)]
                     for step in (0, 1)])
_REDUNDANT = np.array(
    [bin(c).count('1') >= 2 and _ring_is_connected(c) for c in range(256)])


def _neighbour_codes(padded: np.ndarray) -> np.ndarray:
    """Neighbour codes of the inner pixels of a zero-padded 0/1 image."""
    h, w = padded.shape[0] - 2, padded.shape[1] - 2
    code = np.zeros((h, w), np.uint8)
    for bit, (dy, dx) in enumerate(_RING):
        code |= padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] << bit
    return code


def _codes_at(flat: np.ndarray, pixels: np.ndarray,
              offsets: np.ndarray) -> np.ndarray:
    """Neighbour codes of the given flat indices of a padded image."""
    code = np.zeros(pixels.size, np.uint8)
    for bit, offset in enumerate(offsets):
        code |= flat[pixels + offset] << bit
    return code


def _remove_redundant_pixels(padded: np.ndarray) -> None:
    """Drop skeleton pixels whose neighbours stay connected without them.

    Zhang-Suen can leave 4-connected staircases (an L corner at every step),
    which would make paths look longer than they are. Pixels are visited on
    the four 2x2 sub-lattices in turn, so no two removed pixels are
    neighbours and connectivity is preserved.
    """
    inner = padded[1:-1, 1:-1]
    for oy in (0, 1):
        for ox in (0, 1):
            code = _neighbour_codes(padded)[oy::2, ox::2]
            phase = inner[oy::2, ox::2]
            phase[_REDUNDANT[code] & (phase == 1)] = 0


def skeletonize(mask: np.ndarray) -> np.ndarray:
    """Thin a binary mask to 8-connected, 1-pixel-wide centre lines.

    Zhang-Suen thinning. A pixel's fate in a sub-iteration can only differ
    from the last one of the same kind if a neighbour was deleted since, so
    once few pixels change only their neighbours are visited: a large blob
    costs its outline, not the image, per sub-iteration. Memory stays a few
    bytes per pixel whatever the mask.
    """
    img = np.pad((np.asarray(mask) > 0).astype(np.uint8), 1)
    flat = img.reshape(-1)
    offsets = np.array([dy * img.shape[1] + dx for dy, dx in _RING])
    todo, last, step = None, None, 0
    while True:
        if todo is None:  # every pixel
            delete = np.zeros(img.shape, bool)
            delete[1:-1, 1:-1] = _DELETES[step][_neighbour_codes(img)]
            gone = np.flatnonzero(delete & (img == 1))
        else:
            gone = todo[_DELETES[step][_codes_at(flat, todo, offsets)]]
        flat[gone] = 0
        if last is not None:
            changed = np.concatenate([last, gone])
            if not changed.size:
                break
            if changed.size > img.size // 64:
                todo = None
            else:
                near = (changed[:, None] + offsets).ravel()
                todo = np.unique(near[flat[near] == 1])
        last, step = gone, 1 - step
    _remove_redundant_pixels(img)
    return img[1:-1, 1:-1].copy()


# Chain-code lengths (1 per orthogonal, sqrt 2 per diagonal link) overrate
# slanted curves by up to 8 %; Kulpa's factor makes them unbiased over all
# orientations, leaving at most about 5 % error for any one direction.
KULPA_FACTOR = np.pi * (1 + np.sqrt(2.0)) / 8  # 0.948


def skeleton_length(skeleton: np.ndarray) -> float:
    """Length of a 1-pixel skeleton along its 8-connected links."""
    s = np.pad(skeleton > 0, 1)
    centre = s[1:-1, 1:-1]
    east = centre & s[1:-1, 2:]
    south = centre & s[2:, 1:-1]
    south_east = centre & s[2:, 2:]
    south_west = centre & s[2:, :-2]
    # A diagonal link is redundant where both its corner pixels would make
    # an orthogonal path; one corner is enough for the path to exist.
    south_east &= ~(s[1:-1, 2:] | s[2:, 1:-1])
    south_west &= ~(s[1:-1, :-2] | s[2:, 1:-1])
    orthogonal = int(east.sum() + south.sum())
    diagonal = int(south_east.sum() + south_west.sum())
    return KULPA_FACTOR * (orthogonal + np.sqrt(2.0) * diagonal)


def measure_cracks(mask: np.ndarray,
                   mm_per_pixel: Optional[float] = None,
                   min_area: int = 0) -> CrackMeasurements:
    """Measure the cracks of a binary mask.

    Args:
        mask: (H, W) array, non-zero on crack pixels.
        mm_per_pixel: Ground sampling distance; when given, lengths and
            widths are reported in millimetres and the area in mm^2.
        min_area: Connected pieces smaller than this many pixels are noise:
            removed before measuring.
    """
    binary = (np.asarray(mask) > 0).astype(np.uint8)
    # Labels without OpenCV's statistics: their parallel version holds
    # memory in proportion to threads times pieces, gigabytes for a noisy
    # 12-megapixel mask on a many-core machine.
    num, labels = cv2.connectedComponents(binary, connectivity=8)
    num_cracks = num - 1
    if min_area > 1:
        # Counted band by band, so the labels are never cast to int64 whole.
        areas = sum(np.bincount(band.ravel(), minlength=num)
                    for band in np.array_split(labels, 16))
        keep = areas >= min_area
        keep[0] = False  # background
        num_cracks = int(keep.sum())
        binary = keep.astype(np.uint8)[labels]
    del labels
    area = float(np.count_nonzero(binary))
    skeleton = skeletonize(binary)
    if area:
        # Outside the photo counts as background, so a mask that is crack
        # everywhere still has finite distances (otherwise OpenCV returns a
        # huge value where no background pixel exists).
        dist = cv2.distanceTransform(
            cv2.copyMakeBorder(binary, 1, 1, 1, 1, cv2.BORDER_CONSTANT, 0),
            cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
        # Thinning eats about half a width at each free end: add it back.
        neighbours = cv2.filter2D(skeleton, cv2.CV_16S, np.ones((3, 3)),
                                  borderType=cv2.BORDER_CONSTANT) - skeleton
        ends = (skeleton == 1) & (neighbours <= 1)
        length = skeleton_length(skeleton) + float((dist[ends] - 0.5).sum())
        length = max(length, 1.0)
        max_width = float(2 * dist[skeleton > 0].max() - 0.75)
        mean_width = area / length
    else:
        length = max_width = mean_width = 0.0
    result = CrackMeasurements(area, length, mean_width, max_width,
                               num_cracks)
    if mm_per_pixel is not None:
        if mm_per_pixel <= 0:
            raise ValueError(f'mm_per_pixel must be > 0, got {mm_per_pixel}')
        result = CrackMeasurements(area * mm_per_pixel**2,
                                   result.length * mm_per_pixel,
                                   mean_width * mm_per_pixel,
                                   max_width * mm_per_pixel, num_cracks, 'mm')
    return result
