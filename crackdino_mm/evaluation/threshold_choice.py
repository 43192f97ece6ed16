"""The one place where a decision threshold (and test-time scale) is
chosen: the best F over a sweep of thresholds. ``CrackMetric`` (ODS),
``tools/choose_threshold.py``, the demo, site calibration (``adapt``) and
the benchmarks all choose through these functions."""
import math
from typing import Mapping, Tuple

import numpy as np


def sweep_thresholds(num_thresholds: int) -> np.ndarray:
    """``num_thresholds`` thresholds evenly spaced in (0, 1), ascending
    (``CrackMetric``'s sweep)."""
    return np.arange(1, num_thresholds + 1) / (num_thresholds + 1)


def counts_above(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each of the ascending ``thresholds``, how many ``values`` are
    above it (the decision ``probability > threshold``)."""
    above = np.searchsorted(thresholds, np.ravel(values), side='left')
    hist = np.bincount(above, minlength=len(thresholds) + 1)
    return hist[::-1].cumsum()[::-1][1:]


def best_threshold(f_scores: np.ndarray) -> int:
    """Index of the best F in ``f_scores`` (one per ascending threshold);
    a tie keeps the lowest threshold."""
    return int(np.argmax(f_scores))


def best_calibration(f_by_scale: Mapping[float, np.ndarray],
                     reference_scale: float = 1.0) -> Tuple[float, int]:
    """The (scale, threshold index) of the best F in ``f_by_scale`` ({test
    scale: F per ascending threshold}); a tie keeps the scale nearest
    ``reference_scale`` (in ratio), then the lowest threshold."""
    best = None
    for scale in sorted(f_by_scale,
                        key=lambda s: abs(math.log(s / reference_scale))):
        f = np.asarray(f_by_scale[scale])
        index = best_threshold(f)
        if best is None or f[index] > best[2]:
            best = (scale, index, f[index])
    return best[0], best[1]


def ods_threshold(metrics: dict, where: str) -> float:
    """The threshold ``CrackMetric`` chose (its ``ods_threshold``, under
    any prefix) from its results ``metrics``.

    Args:
        metrics (dict): What ``Runner.val()``/``test()`` returned.
        where (str): The config that was run, named in the error.

    Returns:
        float: The threshold of best dataset-level F.

    Raises:
        KeyError: When the metrics have no ``ods_threshold`` (the
            evaluator is not ``CrackMetric``).
    """
    found = [v for k, v in metrics.items()
             if k.split('/')[-1] == 'ods_threshold']
    if not found:
        raise KeyError(f'{where}: the validation metrics {sorted(metrics)} '
                       'have no "ods_threshold"; val_evaluator must be '
                       'CrackMetric')
    return float(found[0])
