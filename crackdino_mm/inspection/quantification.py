"""Measurements of predicted crack masks: crack by crack, and per photo.

A crack is an 8-connected piece of the mask. Its centre line is the
one-pixel skeleton (Zhang-Suen thinning, then pixels that do not carry
connectivity removed).

Length is measured along the skeleton's 8-connected links by Vossepoel and
Smeulders' corner count, within about 2 % for straight lines of any
direction. Thinning shortens every free end by about half the local width,
which is added back from the distance transform.

Width is measured across the crack at every skeleton pixel. The Euclidean
distance d from a crack pixel's centre to the nearest background pixel's
centre rises by one pixel per pixel towards the centre line: across the
crack it is a tent whose top is the centre line. The width is read from
two samples of that tent, the skeleton pixel and its highest orthogonal
neighbour off the skeleton: width = d + d_beside. A crack k pixels across
then measures exactly k, odd (the skeleton is on the centre line and its
neighbours are one lower: 2d - 1) or even (no pixel is on the centre line;
the skeleton is half a pixel off it and its twin across has the same d:
2d). Twice the distance alone, 2d - 1, would read every even width one
pixel short, a 2-pixel crack as 1. A 1-pixel crack measures 1 (d = 1, both
sides background); slanted cracks are right to about half a pixel.
The width profile is averaged along the skeleton over about five pixels,
so that the maximum is not a single pixel's digitisation noise, and pixels
in a branch point's disc are left out: the mask is genuinely wider where
branches merge than any of the branches. A crack's mean, median and
maximum width are those of this profile; a photo's mean width is the
length-weighted mean of its cracks' mean widths, its maximum the largest
of theirs (``CrackTable.summary``): one definition of width throughout.
"""
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence

import cv2
import numpy as np


#: How the tables measure, for the reports' headers.
MEASURED_AS = (
    'Length: along each crack\'s one-pixel centre line (skeleton), plus '
    'half a width at each free end. Width: across the crack at every '
    'centre-line pixel, from the distance transform (distance to the '
    'background on both sides), smoothed over about 5 pixels along the '
    'line, branch points left out; a crack\'s mean, median and maximum '
    'width are those of this profile. A photo\'s mean width is its '
    'cracks\' mean widths weighted by their lengths, its maximum width the '
    'largest of theirs.')


@dataclass
class CrackMeasurements:
    """Crack measurements of one mask, in pixels or in millimetres
    (``CrackTable.summary``).

    Args:
        area (float): Crack area, in ``unit``^2.
        length (float): Total centre-line length, in ``unit``.
        mean_width (float): Length-weighted mean of the cracks' mean
            widths, in ``unit``.
        max_width (float): Largest width of any crack, in ``unit``.
        num_cracks (int): Number of cracks.
        unit (str): ``'px'`` or ``'mm'``. Defaults to ``'px'``.
    """
    area: float
    length: float
    mean_width: float
    max_width: float
    num_cracks: int
    unit: str = 'px'

    def as_columns(self) -> dict:
        """Table columns named with their unit (``length_mm``,
        ``area_mm2``), values to six significant digits.

        Returns:
            dict: Column name to value, ``num_cracks`` last.
        """
        area = 'area_' + self.unit + '2'
        values = {area: self.area}
        for name in ('length', 'mean_width', 'max_width'):
            values[f'{name}_{self.unit}'] = getattr(self, name)
        columns = {key: float(f'{value:.6g}')
                   for key, value in values.items()}
        return dict(columns, num_cracks=self.num_cracks)


# Offsets of the 8 neighbours P2..P9, clockwise from north: bit i of a
# pixel's neighbour code is set where neighbour i is foreground.
_RING = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]


def _zhang_suen_deletes(code: int, step: int) -> bool:
    """Whether a Zhang-Suen sub-iteration deletes a pixel of this code.

    With Lu and Wang's condition of at least three neighbours (not two):
    plain Zhang-Suen erases a 45-degree line two pixels thick from its
    ends until nothing is left, a common shape of slanted hairline cracks.
    """
    n = [code >> i & 1 for i in range(8)]
    transitions = sum(n[i] == 0 and n[(i + 1) % 8] == 1 for i in range(8))
    if step == 0:
        kept = n[0] * n[2] * n[4] or n[2] * n[4] * n[6]
    else:
        kept = n[0] * n[2] * n[6] or n[0] * n[4] * n[6]
    return 3 <= sum(n) <= 6 and transitions == 1 and not kept


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

    Zhang-Suen thinning with Lu and Wang's correction. A pixel's fate in a
    sub-iteration can only differ from the last one of the same kind if a
    neighbour was deleted since, so once few pixels change only their
    neighbours are visited: a large blob costs its outline, not the image,
    per sub-iteration. Memory stays a few bytes per pixel whatever the
    mask.
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


def _chain_length(code: int) -> float:
    """A skeleton pixel's share of the length, by Vossepoel and Smeulders'
    corner count (0.980 per orthogonal link, 1.406 per diagonal one, -0.091
    per change of direction), within about 2 % for straight lines of any
    direction (plain 1 and sqrt(2) per link overrate slanted lines by up
    to 8 %).

    A pixel owns its links to the east, south, south-east and south-west,
    so each link counts once; a diagonal link is redundant where an
    orthogonal neighbour also makes the path (a corner of the L it cuts).
    A pixel inside a line (two neighbours) is a corner unless they face
    each other.
    """
    n = [code >> i & 1 for i in range(8)]
    south_east = n[3] and not (n[2] or n[4])
    south_west = n[5] and not (n[6] or n[4])
    around = [i for i in range(8) if n[i]]
    corner = len(around) == 2 and around[1] - around[0] != 4
    return (0.980 * (n[2] + n[4]) + 1.406 * (south_east + south_west) -
            0.091 * corner)


_CHAIN_LENGTH = np.array([_chain_length(c) for c in range(256)])
_NEIGHBOURS = np.array([bin(c).count('1') for c in range(256)], np.uint8)

# One record per crack. Box and positions are pixels of the photo; area,
# length and widths are in the table's unit; orientation in degrees.
CRACK_DTYPE = np.dtype([
    ('id', np.int64), ('box_x', np.int64), ('box_y', np.int64),
    ('box_w', np.int64), ('box_h', np.int64), ('area', np.float64),
    ('length', np.float64), ('mean_width', np.float64),
    ('median_width', np.float64), ('max_width', np.float64),
    ('max_x', np.int64), ('max_y', np.int64), ('orientation', np.float64)])


@dataclass
class CrackTable:
    """Measurements of every crack of one mask (records of ``CRACK_DTYPE``).

    ``box_*`` (top-left corner and size) and ``max_x``/``max_y`` (where
    the width is largest) are pixel positions in the photo; ``area`` is in
    ``unit``^2, ``length`` and the widths in ``unit``; ``orientation`` is
    the direction of the crack's principal axis in degrees, counter-clockwise
    from the image's x axis, in [0, 180). ``dropped`` (H, W; bool) marks
    the pieces left out for ``min_area``/``min_length``, to draw them apart.

    Args:
        data (np.ndarray): One ``CRACK_DTYPE`` record per crack.
        unit (str): ``'px'`` or ``'mm'``. Defaults to ``'px'``.
        dropped (np.ndarray, optional): (H, W; bool) pieces not measured.
            Defaults to None.
    """
    data: np.ndarray
    unit: str = 'px'
    dropped: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.data)

    def rows(self) -> Iterator[dict]:
        """The records as dictionaries of Python numbers, with the unit.

        Yields:
            dict: One crack's fields of ``CRACK_DTYPE`` and ``unit``.
        """
        names = self.data.dtype.names
        for record in self.data.tolist():
            yield dict(zip(names, record), unit=self.unit)

    def summary(self) -> CrackMeasurements:
        """The photo's figures, derived from its cracks': area and length
        summed, the mean width the length-weighted mean of the cracks'
        mean widths, the maximum width the largest crack's maximum (one
        definition of width, so mean <= max for the photo as for each
        crack).

        Returns:
            CrackMeasurements: The photo's figures (zeros without cracks).
        """
        area = float(self.data['area'].sum())
        length = float(self.data['length'].sum())
        mean = float((self.data['mean_width'] * self.data['length']).sum() /
                     length) if length else 0.0
        return CrackMeasurements(
            area, length, mean,
            float(self.data['max_width'].max()) if len(self) else 0.0,
            len(self), self.unit)


def _areas_and_boxes(labels: np.ndarray, num: int):
    """Pixel count and bounding box (x0, y0, x1, y1, inclusive) per label.

    Band by band of rows, so no image-sized index array is ever held
    (OpenCV's statistics are avoided: their parallel version holds memory
    in proportion to threads times pieces).
    """
    areas = np.zeros(num, np.int64)
    lo = np.full((2, num), np.iinfo(np.int64).max, np.int64)
    hi = np.full((2, num), -1, np.int64)
    width = labels.shape[1]
    for top in range(0, labels.shape[0], 256):
        band = labels[top:top + 256].ravel()
        areas += np.bincount(band, minlength=num)
        where = np.flatnonzero(band)
        which = band[where]
        for axis, coord in enumerate((where % width, where // width + top)):
            np.minimum.at(lo[axis], which, coord)
            np.maximum.at(hi[axis], which, coord)
    return areas, lo, hi


def _restore_lost_pieces(skeleton: np.ndarray, labels: np.ndarray,
                         dist: np.ndarray, num: int) -> None:
    """Give a skeleton pixel to pieces that thinning erased whole.

    Zhang-Suen deletes a 2x2 block entirely; such a piece keeps its pixel
    farthest from the background, so every crack has a centre line.
    """
    has = np.zeros(num, bool)
    has[labels[skeleton > 0]] = True
    has[0] = True
    if has.all():
        return
    lost = np.flatnonzero(~has[labels])
    which = labels.ravel()[lost]
    depth = dist[lost // labels.shape[1] + 1, lost % labels.shape[1] + 1]
    order = np.lexsort((-depth, which))
    first = np.r_[True, which[order][1:] != which[order][:-1]]
    skeleton.ravel()[lost[order[first]]] = 1


def _near_branch_points(shape, pixels: np.ndarray, depth: np.ndarray,
                        branch: np.ndarray) -> np.ndarray:
    """Which skeleton pixels lie within a branch point's disc.

    A branch point's largest inscribed disc (radius its distance d, plus
    a pixel) covers where the branches merge and the mask is wider than
    any of them: up to 1.25 times at a T, 1.41 at a right-angle cross.
    """
    zone = np.zeros(shape, np.uint8)
    for flat, d in zip(pixels[branch].tolist(), depth[branch].tolist()):
        cv2.circle(zone, (flat % shape[1], flat // shape[1]),
                   int(np.ceil(d)) + 1, 1, -1)
    return zone.ravel()[pixels] > 0


def _smooth_along(pixels: np.ndarray, values: np.ndarray, used: np.ndarray,
                  shape, offsets: np.ndarray, times: int = 2) -> np.ndarray:
    """Average each used pixel's value with its used skeleton neighbours.

    Neighbours of a skeleton pixel on the skeleton belong to the same
    crack, so values never mix between cracks.
    """
    image = np.zeros(shape[0] * shape[1], np.float32)
    taken = np.zeros(image.size, np.uint8)
    taken[pixels[used]] = 1
    out = values.astype(np.float32)
    for _ in range(times):
        image[pixels[used]] = out[used]
        total = image[pixels].copy()
        count = taken[pixels].astype(np.float32)
        for offset in offsets:
            total += image[pixels + offset]
            count += taken[pixels + offset]
        out = np.where(used, total / np.maximum(count, 1), out)
    return out


def _widths(pixels: np.ndarray, flat: np.ndarray, dist: np.ndarray,
            offsets: np.ndarray):
    """Width across the crack at each skeleton pixel: its distance plus
    the largest distance of its orthogonal neighbours off the skeleton."""
    depth = dist[pixels]
    beside = np.zeros_like(depth)
    for offset in offsets[0::2]:  # north, east, south, west
        near = pixels + offset
        beside = np.maximum(beside, np.where(flat[near] == 0, dist[near], 0))
    return depth, depth + beside


def _lengths(which: np.ndarray, codes: np.ndarray, depth: np.ndarray,
             num: int) -> np.ndarray:
    """Skeleton length per label, plus half a width given back at each
    free end (both ends of a piece thinned to a single pixel)."""
    neighbours = _NEIGHBOURS[codes]
    ends = np.where(neighbours == 0, 2.0, neighbours == 1)
    length = (np.bincount(which, _CHAIN_LENGTH[codes], num) +
              np.bincount(which, ends * (depth - 0.5), num))
    return np.maximum(length, 1.0)


def _width_statistics(which: np.ndarray, width: np.ndarray,
                      used: np.ndarray, labels: np.ndarray, num: int):
    """Mean, median and the index of the maximum of the used widths of
    each of ``labels`` (each must have at least one)."""
    order = np.flatnonzero(used)
    order = order[np.lexsort((width[order], which[order]))]
    counts = np.bincount(which[order], minlength=num)
    first = (np.cumsum(counts) - counts)[labels]
    last = first + counts[labels] - 1
    mean = np.bincount(which[order], width[order], num)[labels] / (
        counts[labels])
    median = (width[order[(first + last) // 2]] +
              width[order[(first + last + 1) // 2]]) / 2
    return mean, median, order[last]


def _orientations(which: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                  num: int) -> np.ndarray:
    """Direction of each label's principal axis, in degrees
    counter-clockwise from the x axis (y up), in [0, 180)."""
    count = np.maximum(np.bincount(which, minlength=num), 1)
    dx = xs - (np.bincount(which, xs, num) / count)[which]
    dy = (np.bincount(which, ys, num) / count)[which] - ys
    angle = np.degrees(0.5 * np.arctan2(
        2 * np.bincount(which, dx * dy, num),
        np.bincount(which, dx * dx, num) - np.bincount(which, dy * dy, num)))
    return angle % 180


def measure_each_crack(mask: np.ndarray,
                       mm_per_pixel: Optional[float] = None,
                       min_area: int = 0,
                       min_length: float = 0.0) -> CrackTable:
    """Measure every crack (8-connected piece) of a binary mask.

    Args:
        mask (np.ndarray): (H, W) array, non-zero on crack pixels.
        mm_per_pixel (float, optional): Ground sampling distance; when
            given, lengths and widths are in millimetres and areas in mm^2.
            Defaults to None: pixels.
        min_area (int): Pieces smaller than this many pixels are noise:
            dropped. Defaults to 0.
        min_length (float): Pieces shorter than this many pixels (skeleton
            length) are noise: dropped. Defaults to 0.0.

    Returns:
        CrackTable: The cracks, numbered from 1 in the order of their first
        pixel (row by row), with the dropped pieces' pixels.

    Raises:
        ValueError: If ``mm_per_pixel`` is not positive or ``mask`` is not
            2-D.
    """
    if mm_per_pixel is not None and mm_per_pixel <= 0:
        raise ValueError(f'mm_per_pixel must be > 0, got {mm_per_pixel}')
    binary = (np.asarray(mask) > 0).astype(np.uint8)
    if binary.ndim != 2:
        raise ValueError(f'mask must be (H, W), got shape {binary.shape}')
    num, labels = cv2.connectedComponents(binary, connectivity=8)
    areas, lo, hi = _areas_and_boxes(labels, num)
    skeleton = skeletonize(binary)
    # Outside the photo counts as background, so a mask that is crack
    # everywhere still has finite distances (otherwise OpenCV returns a
    # huge value where no background pixel exists). Kept padded: the
    # skeleton's neighbours are then always inside.
    dist = cv2.distanceTransform(
        cv2.copyMakeBorder(binary, 1, 1, 1, 1, cv2.BORDER_CONSTANT, 0),
        cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    del binary
    _restore_lost_pieces(skeleton, labels, dist, num)
    padded = np.pad(skeleton, 1)
    del skeleton
    shape, flat = padded.shape, padded.ravel()
    pixels = np.flatnonzero(flat)
    ys, xs = pixels // shape[1] - 1, pixels % shape[1] - 1
    which = labels[ys, xs]
    offsets = np.array([dy * shape[1] + dx for dy, dx in _RING])
    codes = _codes_at(flat, pixels, offsets)
    depth, width = _widths(pixels, flat, dist.ravel(), offsets)
    del dist

    length = _lengths(which, codes, depth, num)
    keep = (areas >= min_area) & (length >= min_length)
    keep[0] = False  # background
    ids = np.flatnonzero(keep)
    dropped = np.ones(num, bool)
    dropped[0] = False
    dropped[ids] = False
    dropped = dropped[labels]
    del labels

    # Width profile: off the branch points' discs (unless that leaves a
    # crack nothing), smoothed along the skeleton.
    used = ~_near_branch_points(shape, pixels, depth,
                                _NEIGHBOURS[codes] >= 3)
    used |= ~(np.bincount(which, used, num) > 0)[which]
    width = _smooth_along(pixels, width, used, shape, offsets)
    mean, median, widest = _width_statistics(which, width, used, ids, num)

    table = np.zeros(len(ids), CRACK_DTYPE)
    table['id'] = np.arange(1, len(ids) + 1)
    table['box_x'], table['box_y'] = lo[0, ids], lo[1, ids]
    table['box_w'] = hi[0, ids] - lo[0, ids] + 1
    table['box_h'] = hi[1, ids] - lo[1, ids] + 1
    table['area'] = areas[ids]
    table['length'] = length[ids]
    table['mean_width'] = mean
    table['median_width'] = median
    table['max_width'] = width[widest]
    table['max_x'], table['max_y'] = xs[widest], ys[widest]
    table['orientation'] = _orientations(which, xs, ys, num)[ids]
    if mm_per_pixel is None:
        return CrackTable(table, 'px', dropped)
    table['area'] *= mm_per_pixel**2
    for name in ('length', 'mean_width', 'median_width', 'max_width'):
        table[name] *= mm_per_pixel
    return CrackTable(table, 'mm', dropped)


def area_unit(unit: str) -> str:
    """The unit of areas measured in ``unit``: px² or mm²."""
    return unit + '\u00b2'


def check_width_limits(limits: Sequence[float]) -> List[float]:
    """The limits between width classes, which must be positive and
    increasing.

    Args:
        limits (Sequence[float]): The limits, in the table's unit.

    Returns:
        list[float]: The limits as floats.

    Raises:
        ValueError: If a limit is not positive or not above the one before.
    """
    values = [float(limit) for limit in limits]
    if any(v <= 0 for v in values) or any(
            b <= a for a, b in zip(values, values[1:])):
        raise ValueError('width limits must be positive and increasing, got '
                         f'{values}')
    return values


def width_classes(widths: np.ndarray, limits: Sequence[float]) -> np.ndarray:
    """Class of each width: how many limits it reaches (0 below the first).

    A width equal to a limit belongs to the class above it, as a crack
    of exactly 0.3 mm does not meet a limit of "under 0.3 mm".

    Args:
        widths (np.ndarray): Crack widths.
        limits (Sequence[float]): Positive, increasing limits, in the
            widths' unit.

    Returns:
        np.ndarray: The class index of each width, 0 to ``len(limits)``.

    Raises:
        ValueError: If the limits are not positive and increasing.
    """
    return np.searchsorted(check_width_limits(limits), np.asarray(widths),
                           side='right')


def width_class_names(limits: Sequence[float], unit: str) -> List[str]:
    """Readable names of the classes ``width_classes`` assigns.

    Args:
        limits (Sequence[float]): The limits between classes.
        unit (str): Their unit, as shown (``'mm'``).

    Returns:
        list[str]: One name per class (``'< 0.3 mm'``, ``'0.3-1 mm'``,
        ``'>= 1 mm'``); ``['all']`` without limits.
    """
    if not len(limits):
        return ['all']
    bounds = [f'{limit:g}' for limit in limits]
    return ([f'< {bounds[0]} {unit}'] +
            [f'{a}-{b} {unit}' for a, b in zip(bounds[:-1], bounds[1:])] +
            [f'>= {bounds[-1]} {unit}'])
