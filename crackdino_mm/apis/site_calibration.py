"""A site's decision threshold and test-time scale, chosen on a few
labelled photos by the best F pooled over them, and the scores of
probability maps at a threshold (``CrackMetric``'s figures)."""
import logging
import math
from contextlib import contextmanager
from typing import List, Sequence

import numpy as np
from mmengine.logging import MMLogger
from tqdm import tqdm

from ..evaluation import CrackMetric
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
               threshold: float) -> dict:
    """CrackMetric's figures (tolerance 0) of crack probability maps
    against 0/1 labels (255 ignored), the decision at ``threshold``:
    ``crack_iou``, ``crack_f1``, ``ods``, ``ods_threshold``, ..."""
    metric = CrackMetric()
    results = [metric.image_counts(prob, (prob > threshold).astype(np.uint8),
                                   label)
               for prob, label in zip(probs, labels)]
    with _quiet_metric():
        return metric.compute_metrics(results)


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


def choose_calibration(model, photos, scales: Sequence[float] = SCALE_GRID,
                       progress: bool = False, **predictor_args) -> dict:
    """The (threshold, scale) with the best F pooled over labelled
    ``photos`` (their ODS), every scale of ``scales`` tried; a tie keeps
    the scale nearest 1. Returns ``threshold``, ``scale``, ``f`` and the
    ``table`` of every scale tried; the model is left calibrated to
    them. ``progress`` shows a bar over the predictions, with their rate."""
    labels = [photo.label for photo in photos]
    table = []
    bar = tqdm(total=len(scales) * len(photos), desc='calibration',
               unit='photo', disable=not progress)
    for scale in sorted(scales, key=lambda s: abs(math.log(s))):
        probs = site_probabilities(model, [p.img for p in photos], scale,
                                   bar=bar, **predictor_args)
        scores = map_scores(probs, labels, 0.5)
        table.append(dict(scale=float(scale), f=scores['ods'],
                          threshold=scores['ods_threshold']))
    bar.close()
    best = max(table, key=lambda row: row['f'])
    apply_calibration(model, best['threshold'], best['scale'])
    return dict(best, table=table)
