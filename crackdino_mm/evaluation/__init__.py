from .crack_metric import CrackMetric
from .threshold_choice import (best_calibration, best_threshold,
                               counts_above, ods_threshold,
                               sweep_thresholds)

__all__ = [
    'CrackMetric', 'best_calibration', 'best_threshold', 'counts_above',
    'ods_threshold', 'sweep_thresholds'
]
