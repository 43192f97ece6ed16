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
    """CrackMetric's figures (tolerance 0) of crack probability maps
    against 0/1 labels (255 ignored), the decision at ``threshold``:
    ``crack_iou``, ``crack_f1``, ``ods``, ``ods_threshold`` (best of
    ``num_thresholds`` thresholds evenly spaced in (0, 1)), ..."""
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
    """Crack probability maps of BGR ``images`` seen at ``scale``
    (``bar``, a tqdm bar, advances by one per image)."""
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
                       progress: bool = False, **predictor_args) -> dict:
    """The (threshold, scale) with the best F pooled over labelled
    ``photos`` (their ODS over ``num_thresholds`` thresholds evenly spaced
    in (0, 1)), every scale of ``scales`` tried; a tie keeps the scale
    nearest 1.

    It replaces the model's current (the checkpoint's stored) calibration
    only if its F beats the stored one's on the photos by ``min_gain``
    F points or more: a few photos can pick a threshold that fits them and
    not the site. ``min_gain=0`` (the default until the leave-one-site-out
    study chooses a margin) always takes the choice, as before the margin
    existed. ``progress`` shows a bar over the predictions, with their
    rate.

    Returns the ``threshold``, ``scale`` and ``f`` in use, the ``table`` of
    every scale tried, ``stored`` and ``chosen`` (each threshold, scale and
    F), ``min_gain`` and ``kept_stored``; the model is left calibrated to
    the one in use.
    """
    if not 0 <= min_gain <= 100:
        raise ValueError(f'min_gain: expected F points in [0, 100], got '
                         f'{min_gain}')
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
    chosen = _sweep_row(scale, f_by_scale[scale], metric.thresholds, index)
    if stored['scale'] not in maps:
        maps[stored['scale']] = site_probabilities(
            model, [p.img for p in photos], stored['scale'], **predictor_args)
    stored['f'] = map_scores(maps[stored['scale']], labels,
                             stored['threshold'])['crack_f1']
    kept = min_gain > 0 and chosen['f'] - stored['f'] < min_gain
    use = stored if kept else chosen
    apply_calibration(model, use['threshold'], use['scale'])
    return dict(use, table=table, stored=stored, chosen=chosen,
                min_gain=min_gain, kept_stored=kept)
