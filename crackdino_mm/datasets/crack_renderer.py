"""Procedural rendering of crack photographs with pixel-exact masks.

The renderer draws concrete or asphalt-like surfaces (multi-octave grain,
aggregate speckles, an illumination gradient, stains and soft shadows) and
thin, tortuous, branching cracks whose width varies along their path. The
mask marks exactly the pixels the cracks were drawn into, before the optical
blur and sensor noise are applied to the image.
"""
from typing import Tuple

import cv2
import numpy as np


def _value_noise(rng: np.random.Generator, height: int, width: int,
                 cell: int) -> np.ndarray:
    """Smooth noise in [-1, 1] with features about ``cell`` pixels wide."""
    grid = rng.uniform(-1, 1, (height // cell + 2, width // cell + 2))
    return cv2.resize(
        grid.astype(np.float32), (width, height),
        interpolation=cv2.INTER_CUBIC)


def _surface(rng: np.random.Generator, height: int,
             width: int) -> np.ndarray:
    """Grey-level concrete/asphalt texture in [0, 1] with lighting."""
    asphalt = rng.random() < 0.4
    base = rng.uniform(0.35, 0.5) if asphalt else rng.uniform(0.5, 0.72)
    img = np.full((height, width), base, np.float32)
    for cell, amp in ((48, 0.06), (12, 0.04), (3, 0.03)):
        img += amp * _value_noise(rng, height, width, cell)
    # Aggregate: small bright and dark grains, denser on asphalt.
    n_grains = int(height * width / (60 if asphalt else 250))
    ys = rng.integers(0, height, n_grains)
    xs = rng.integers(0, width, n_grains)
    for y, x in zip(ys, xs):
        radius = int(rng.integers(1, 4 if asphalt else 3))
        shade = float(rng.uniform(-0.12, 0.1))
        cv2.circle(img, (int(x), int(y)), radius,
                   float(np.clip(base + shade, 0, 1)), -1)
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    # Stains: large soft blobs, darker or lighter than the surface.
    for _ in range(rng.integers(0, 4)):
        stain = np.zeros_like(img)
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(10, width // 3)),
                int(rng.integers(10, height // 3)))
        cv2.ellipse(stain, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                    1.0, -1)
        stain = cv2.GaussianBlur(stain, (0, 0), float(rng.uniform(4, 15)))
        img += float(rng.uniform(-0.15, 0.1)) * stain
    # Shadow-like distractor: a soft-edged dark polygon.
    if rng.random() < 0.5:
        shadow = np.zeros_like(img)
        pts = np.stack([rng.integers(-width // 2, width * 3 // 2, 4),
                        rng.integers(-height // 2, height * 3 // 2, 4)], 1)
        cv2.fillPoly(shadow, [pts.astype(np.int32)], 1.0)
        shadow = cv2.GaussianBlur(shadow, (0, 0), float(rng.uniform(3, 12)))
        img *= 1 - float(rng.uniform(0.15, 0.4)) * shadow
    # Illumination: a linear ramp and a vignette.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height)
    img *= 1 + float(rng.uniform(0.05, 0.3)) * (ramp - ramp.mean())
    radius2 = ((xx - width / 2)**2 + (yy - height / 2)**2) / (
        (width / 2)**2 + (height / 2)**2)
    img *= 1 - float(rng.uniform(0, 0.25)) * radius2
    return img


def _crack_path(rng: np.random.Generator, start: np.ndarray, heading: float,
                length: int, step: float) -> np.ndarray:
    """A tortuous polyline: a random walk whose heading drifts smoothly."""
    points = [start]
    turn = 0.0
    for _ in range(length):
        turn = 0.7 * turn + rng.normal(0, 0.25)
        heading += turn * 0.5
        points.append(points[-1] + step * np.array(
            [np.cos(heading), np.sin(heading)]))
    # Sub-segment jitter makes the edges jagged like fractured concrete.
    return np.array(points) + rng.normal(0, 0.15 * step, (length + 1, 2))


def _draw_crack(rng: np.random.Generator, mask: np.ndarray,
                depth: np.ndarray, points: np.ndarray, width: float,
                min_width: float, max_width: float, branch_prob: float,
                level: int) -> None:
    """Draw one crack (and, recursively, its branches) into mask/depth."""
    n = len(points)
    # Width varies smoothly along the path and tapers at the tip.
    wobble = np.cumsum(rng.normal(0, 0.15, n))
    widths = width * np.exp(0.3 * (wobble - wobble.mean()))
    widths *= np.clip(np.linspace(1.0, 0.3, n) + 0.2, 0, 1)
    for i in range(n - 1):
        w = float(np.clip(widths[i], min_width, max_width))
        p0 = tuple(int(round(v)) for v in points[i])
        p1 = tuple(int(round(v)) for v in points[i + 1])
        # OpenCV draws a line of thickness t about t + 1 pixels wide.
        thickness = max(1, int(round(w)) - 1)
        cv2.line(mask, p0, p1, 1, thickness, lineType=cv2.LINE_8)
        cv2.line(depth, p0, p1, float(min(1.0, 0.55 + 0.08 * w)), thickness,
                 lineType=cv2.LINE_8)
        if level < 2 and i > 3 and rng.random() < branch_prob:
            direction = points[i + 1] - points[i]
            heading = np.arctan2(direction[1], direction[0])
            heading += rng.choice([-1, 1]) * rng.uniform(0.4, 1.2)
            branch = _crack_path(rng, points[i], heading,
                                 int(rng.integers(8, max(9, n // 2))),
                                 float(np.linalg.norm(direction)))
            _draw_crack(rng, mask, depth, branch, w * 0.6, min_width,
                        max_width, branch_prob * 0.5, level + 1)


def render_crack_sample(
        rng: np.random.Generator,
        height: int,
        width: int,
        crack_width: Tuple[float, float] = (1.0, 8.0),
        max_cracks: int = 3) -> Tuple[np.ndarray, np.ndarray]:
    """Render one photo and its mask.

    Args:
        rng: Random generator; the same state gives the same sample.
        height, width: Image size in pixels.
        crack_width: Range of the main cracks' widths in pixels; branches
            are thinner, down to the lower bound.
        max_cracks: Up to this many main cracks (at least one).

    Returns:
        tuple: ``img`` (H, W, 3) uint8 BGR and ``mask`` (H, W) uint8 with
        1 on crack pixels and 0 elsewhere.
    """
    surface = _surface(rng, height, width)
    mask = np.zeros((height, width), np.uint8)
    depth = np.zeros((height, width), np.float32)
    step = max(2.0, min(height, width) / 40)
    for _ in range(int(rng.integers(1, max_cracks + 1))):
        start = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        heading = rng.uniform(0, 2 * np.pi)
        length = int(rng.integers(20, 60))
        # Grow in both directions from an interior point so cracks cross
        # the frame instead of starting at a visible tip.
        path = np.concatenate([
            _crack_path(rng, start, heading + np.pi, length // 2, step)[::-1],
            _crack_path(rng, start, heading, length // 2, step)[1:]
        ])
        _draw_crack(rng, mask, depth, path,
                    float(rng.uniform(*crack_width)), *crack_width,
                    branch_prob=0.04, level=0)
    # Crack interiors are dark shadows; their edges catch a little light.
    shade = cv2.GaussianBlur(depth, (0, 0), 0.8)
    contrast = float(rng.uniform(0.45, 0.8))
    img = surface * (1 - contrast * shade) - 0.05 * shade
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 0.8)))
    tint = np.array([1.0, rng.uniform(0.97, 1.03), rng.uniform(0.94, 1.06)],
                    np.float32)
    img = img[..., None] * tint
    img += rng.normal(0, 0.012, img.shape).astype(np.float32)
    img = np.clip(img * 255, 0, 255).astype(np.uint8)
    return img, mask
