"""A site's decision threshold and test-time scale, chosen on a few
labelled photos by the best F pooled over them (kept from the checkpoint
unless the choice beats it by a margin), and the scores of probability
maps at a threshold (``CrackMetric``'s figures)."""
import logging
import math
from contextlib import contextmanager
from typing import List, Sequence

import numpy as np
from mmengine.logging import MMLogger
from tqdm import tqdm

from ..evaluation import CrackMetric, best_calibration, best_threshold
from ..utils import SCALE_GRID, apply_calibration
from .crack_predictor import CrackPredictor


@contextmanager
def _quiet_metric():
    """CrackMetric without its table in the log (it runs once per scale)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def map_scores(probs: Sequence[np.ndarray], labels: Sequence[np.ndarray],
               threshold: float, num_thresholds: int = 99) -> dict:
    """CrackMetric's figures (tolerance 0) of crack probability maps.

    Args:
        probs (Sequence[np.ndarray]): Crack probability maps (H, W).
        labels (Sequence[np.ndarray]): 0/1 labels of the same sizes (255
            ignored).
        threshold (float): The decision threshold of the fixed-threshold
            figures.
        num_thresholds (int): Thresholds evenly spaced in (0, 1) that the
            ODS/OIS sweep tries. Defaults to 99.

    Returns:
        dict: ``crack_iou``, ``crack_f1``, ``ods``, ``ods_threshold``, ...
    """
    metric = CrackMetric(num_thresholds=num_thresholds)
    with _quiet_metric():
        return metric.compute_metrics(
            _image_counts(metric, probs, labels, threshold))


def _image_counts(metric, probs, labels, threshold):
    """``metric``'s counts of each map, the decision at ``threshold``."""
    return [metric.image_counts(prob, (prob > threshold).astype(np.uint8),
                                label)
            for prob, label in zip(probs, labels)]


def site_probabilities(model, images: Sequence[np.ndarray], scale: float,
                       bar=None, **predictor_args) -> List[np.ndarray]:
    """Crack probability maps of photos seen at a test-time scale.

    Args:
        model (torch.nn.Module): A segmentor; its scale is set to
            ``scale``.
        images (Sequence[np.ndarray]): BGR photos.
        scale (float): The test-time scale.
        bar (tqdm, optional): A progress bar advanced by one per photo.
        **predictor_args: Passed to ``CrackPredictor``.

    Returns:
        list[np.ndarray]: One (H, W) map per photo, at its size.
    """
    apply_calibration(model, scale=scale)
    predictor = CrackPredictor(model, **predictor_args)
    probs = []
    for img in images:
        probs.append(predictor.probability(img))
        if bar is not None:
            bar.update(1)
    return probs


def _sweep_row(scale, f, thresholds, index) -> dict:
    """A scale's F (points) and threshold at ``index`` of its sweep, as
    ``CrackMetric`` rounds its ODS and ODS threshold."""
    return dict(scale=float(scale), f=round(float(f[index]) * 100, 2),
                threshold=round(float(thresholds[index]), 3))


def choose_calibration(model, photos, scales: Sequence[float] = SCALE_GRID,
                       min_gain: float = 0.0, num_thresholds: int = 99,
                       scale_min_gain: float = 0.0, progress: bool = False,
                       **predictor_args) -> dict:
    """Choose a site's decision threshold and test-time scale on a few
    labelled photos: the pair with the best F pooled over them (their
    ODS), every scale tried; a tie keeps the scale nearest 1.

    The choice replaces the model's current (the checkpoint's stored)
    calibration only if its F beats the stored one's on the photos by
    ``min_gain`` F points or more: a few photos can pick a threshold that
    fits them and not the site. ``min_gain=0`` always takes the choice,
    ``inf`` never. A scale other than the stored one must also beat the
    best threshold at the stored scale by ``scale_min_gain``: a scale is
    one more free choice to fit a few photos with (``adapt_to_site``
    picks both margins per number of photos).

    Args:
        model (torch.nn.Module): A segmentor, calibrated in place.
        photos (Sequence[SitePhoto]): Labelled photos (``img``, ``label``).
        scales (Sequence[float]): Test-time scales tried. Defaults to
            ``SCALE_GRID``.
        min_gain (float): F points (0-100, or ``inf``) the choice must
            gain over the stored calibration to replace it. Defaults to 0.
        num_thresholds (int): Thresholds evenly spaced in (0, 1) swept.
            Defaults to 99.
        scale_min_gain (float): F points (0-100, or ``inf``) the best
            threshold and scale must gain over the best threshold at the
            stored scale to change the scale. Defaults to 0.
        progress (bool): Show a progress bar with its rate. Defaults to
            False.
        **predictor_args: Passed to ``CrackPredictor`` (windows, stride).

    Returns:
        dict: ``threshold``, ``scale`` and ``f`` in use, the ``table`` of
        every scale tried, ``stored``, ``best`` (the best pair),
        ``at_stored_scale`` (the best threshold there) and ``chosen``
        (each threshold, scale and F), ``min_gain`` and ``scale_min_gain``
        (None for ``inf``), ``num_thresholds``, ``kept_stored`` and
        ``kept_scale``.

    Raises:
        ValueError: If a margin is outside [0, 100] and not ``inf``.
    """
    for name, margin in (('min_gain', min_gain),
                         ('scale_min_gain', scale_min_gain)):
        if not (0 <= margin <= 100 or margin == math.inf):
            raise ValueError(f'{name}: expected F points in [0, 100] or '
                             f'inf, got {margin}')
    stored = apply_calibration(model)
    labels = [photo.label for photo in photos]
    metric = CrackMetric(num_thresholds=num_thresholds)
    table, maps, f_by_scale = [], {}, {}
    bar = tqdm(total=len(scales) * len(photos), desc='calibration',
               unit='photo', disable=not progress)
    for scale in sorted(scales, key=lambda s: abs(math.log(s))):
        maps[scale] = site_probabilities(model, [p.img for p in photos],
                                         scale, bar=bar, **predictor_args)
        f_by_scale[scale] = metric.sweep_f(
            _image_counts(metric, maps[scale], labels, 0.5))
        table.append(_sweep_row(scale, f_by_scale[scale], metric.thresholds,
                                best_threshold(f_by_scale[scale])))
    bar.close()
    scale, index = best_calibration(f_by_scale)
    best = _sweep_row(scale, f_by_scale[scale], metric.thresholds, index)
    if stored['scale'] not in maps:
        maps[stored['scale']] = site_probabilities(
            model, [p.img for p in photos], stored['scale'], **predictor_args)
    at_stored = f_by_scale.get(stored['scale'])
    if at_stored is None:
        at_stored = metric.sweep_f(
            _image_counts(metric, maps[stored['scale']], labels, 0.5))
    at_stored = _sweep_row(stored['scale'], at_stored, metric.thresholds,
                           best_threshold(at_stored))
    kept_scale = best['scale'] != at_stored['scale'] and \
        scale_min_gain > 0 and best['f'] - at_stored['f'] < scale_min_gain
    chosen = at_stored if kept_scale else best
    stored['f'] = map_scores(maps[stored['scale']], labels,
                             stored['threshold'])['crack_f1']
    kept = min_gain > 0 and chosen['f'] - stored['f'] < min_gain
    use = stored if kept else chosen
    apply_calibration(model, use['threshold'], use['scale'])
    return dict(use, table=table, stored=stored, best=best,
                at_stored_scale=at_stored, chosen=chosen,
                min_gain=_finite_or_none(min_gain),
                scale_min_gain=_finite_or_none(scale_min_gain),
                num_thresholds=num_thresholds, kept_stored=kept,
                kept_scale=kept_scale)


def _finite_or_none(margin: float):
    """A margin as the record states it: None for ``inf`` (never)."""
    return None if margin == math.inf else margin
