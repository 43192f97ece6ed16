"""Side-by-side pictures of crack predictions."""
from typing import Optional, Sequence

import cv2
import numpy as np

CRACK_COLOUR = (0, 64, 255)  # BGR: orange-red, visible on grey concrete
DROPPED_COLOUR = (200, 200, 200)  # BGR: light grey, pieces not measured


def overlay_mask(img: np.ndarray,
                 mask: np.ndarray,
                 colour: Sequence[int] = CRACK_COLOUR,
                 alpha: float = 0.6) -> np.ndarray:
    """Paint the pixels where ``mask`` is non-zero over a BGR image.

    Args:
        img (np.ndarray): The image (H, W, 3; BGR, uint8), not changed.
        mask (np.ndarray): (H, W) mask, non-zero where to paint.
        colour (Sequence[int]): BGR colour. Defaults to ``CRACK_COLOUR``.
        alpha (float): Opacity of the paint in [0, 1]. Defaults to 0.6.

    Returns:
        np.ndarray: The painted copy.

    Raises:
        ValueError: If image and mask differ in size.
    """
    if img.shape[:2] != mask.shape[:2]:
        raise ValueError(f'image {img.shape[:2]} and mask {mask.shape[:2]} '
                         'differ in size')
    out = img.copy()
    hit = mask.astype(bool)
    out[hit] = ((1 - alpha) * img[hit] +
                alpha * np.asarray(colour, np.float32)).astype(np.uint8)
    return out


def mark_dropped(img: np.ndarray, dropped: np.ndarray,
                 colour: Sequence[int] = DROPPED_COLOUR,
                 dash: int = 4) -> np.ndarray:
    """Paint pieces left unmeasured (``--min-length``/``--min-area``) grey
    with a dashed outline, so they are not mistaken for measured cracks.

    Args:
        img (np.ndarray): The image (H, W, 3; BGR, uint8), not changed.
        dropped (np.ndarray): (H, W) mask of the pieces
            (``CrackTable.dropped``).
        colour (Sequence[int]): BGR colour. Defaults to
            ``DROPPED_COLOUR``.
        dash (int): Length of the outline's dashes and gaps, in pixels.
            Defaults to 4.

    Returns:
        np.ndarray: The painted copy.

    Raises:
        ValueError: If image and mask differ in size.
    """
    out = overlay_mask(img, dropped, colour, alpha=0.5)
    contours, _ = cv2.findContours(dropped.astype(np.uint8),
                                   cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    for contour in contours:
        points = contour[:, 0]
        for start in range(0, len(points), 2 * dash):
            out[points[start:start + dash, 1],
                points[start:start + dash, 0]] = colour
    return out


def side_by_side(img: np.ndarray,
                 gt: Optional[np.ndarray],
                 pred: np.ndarray,
                 titles: Sequence[str] = ('image', 'ground truth',
                                          'prediction')) -> np.ndarray:
    """Image, ground truth and prediction as one BGR picture.

    Args:
        img (np.ndarray): The image (H, W, 3; BGR, uint8).
        gt (np.ndarray, optional): The ground truth, a 0/1 (or 0/255)
            array of the image's size; None for unlabelled input: then
            only image and prediction are shown.
        pred (np.ndarray): The prediction, likewise.
        titles (Sequence[str]): Captions of the three panels (the middle
            one unused without ``gt``). Defaults to ``('image',
            'ground truth', 'prediction')``.

    Returns:
        np.ndarray: The captioned panels side by side (BGR, uint8).

    Raises:
        ValueError: If a mask differs from the image in size.
    """
    panels = [img]
    if gt is not None:
        panels.append(overlay_mask(img, gt > 0))
    panels.append(overlay_mask(img, pred > 0))
    names = list(titles) if gt is not None else [titles[0], titles[-1]]
    height = img.shape[0]
    scale = max(0.4, height / 500)
    captioned = []
    for panel, name in zip(panels, names):
        bar = np.full((int(28 * scale) + 8, panel.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, name, (6, int(22 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.7 * scale, (0, 0, 0), max(1, int(2 * scale)),
                    cv2.LINE_AA)
        captioned.append(np.concatenate([bar, panel], axis=0))
    gap = np.full((captioned[0].shape[0], 6, 3), 255, np.uint8)
    row = [captioned[0]]
    for panel in captioned[1:]:
        row += [gap, panel]
    return np.concatenate(row, axis=1)
