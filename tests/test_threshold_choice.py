"""The one threshold choice: the best F over the sweep, ties to the lowest
threshold and to the scale nearest the reference; CrackMetric, site
calibration and the tools read the same choice."""
import numpy as np
import pytest

from crackdino_mm.evaluation import (CrackMetric, best_calibration,
                                     counts_above, ods_threshold,
                                     sweep_thresholds)


def test_counts_above_counts_values_strictly_above_each_threshold():
    thresholds = sweep_thresholds(4)
    values = np.array([0.2, 0.4, 0.4, 0.9])
    assert thresholds.tolist() == [0.2, 0.4, 0.6, 0.8]
    assert counts_above(values, thresholds).tolist() == [3, 1, 1, 1]


def test_best_calibration_ties_keep_the_nearest_scale_and_lowest_threshold():
    f = {0.5: np.array([0.1, 0.8, 0.8]), 1.0: np.array([0.2, 0.7, 0.8]),
         2.0: np.array([0.9, 0.9, 0.1])}
    assert best_calibration(f) == (2.0, 0)
    f[0.5] = np.array([0.9, 0.9, 0.0])
    assert best_calibration(f) == (0.5, 0)  # |log 0.5| = |log 2|: first
    assert best_calibration(f, reference_scale=2.0) == (2.0, 0)
    assert best_calibration({1.0: f[1.0]}) == (1.0, 2)


def test_crack_metric_ods_is_the_best_of_its_f_sweep():
    rng = np.random.default_rng(0)
    metric = CrackMetric(num_thresholds=9)
    label = (rng.random((20, 20)) < 0.3).astype(np.uint8)
    prob = np.clip(label * 0.5 + rng.random((20, 20)) * 0.6, 0, 1)
    results = [metric.image_counts(prob, (prob > 0.5).astype(np.uint8),
                                   label)]
    f = metric.sweep_f(results)
    scores = metric.compute_metrics(results)
    assert scores['ods'] == round(f.max() * 100, 2)
    assert scores['ods_threshold'] == round(
        float(metric.thresholds[best_calibration({1.0: f})[1]]), 3)


def test_ods_threshold_reads_any_prefix_and_names_the_config():
    assert ods_threshold({'val/ods_threshold': 0.41}, 'a.py') == 0.41
    with pytest.raises(KeyError, match='a.py.*CrackMetric'):
        ods_threshold({'miou': 50.0}, 'a.py')
