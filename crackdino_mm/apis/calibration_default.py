"""The calibration ``adapt_to_site`` applies by default to k labelled
photos: the rule chosen leave-one-site-out over eight sites and the three
DeepCrack source models (``benchmarks/site_adaptation_cpu.py``; README,
"A new site"). ``tests/test_calibration_default.py`` checks that the
committed record still chooses these."""
from typing import NamedTuple

INF = float('inf')


class CalibrationRule(NamedTuple):
    """``min_gain``: F points the photos' F must gain over the stored
    calibration before it changes (``inf``: never, the checkpoint as is);
    ``scale_min_gain``: F points the best threshold and scale must gain
    over the best threshold at the stored scale before the scale changes
    (``inf``: the stored scale stays and only it is tried; 0: the best
    pair); ``num_thresholds``: the threshold grid (99: steps of 0.01; 19:
    0.05)."""
    min_gain: float
    scale_min_gain: float
    num_thresholds: int


#: The checkpoint's calibration, kept whatever the photos say.
AS_IS = CalibrationRule(INF, INF, 99)
#: Labelled photos k -> the rule chosen for k (``default_rule``).
DEFAULT_RULES = {
    1: CalibrationRule(20.0, INF, 19),
    3: CalibrationRule(20.0, 10.0, 19),
    5: CalibrationRule(0.0, 5.0, 99),
    10: CalibrationRule(0.0, 0.0, 99),
}


def default_rule(k: int) -> CalibrationRule:
    """The rule of the largest measured k not above ``k`` (more photos
    than measured take the last; none, the checkpoint as is)."""
    measured = [n for n in DEFAULT_RULES if n <= k]
    return DEFAULT_RULES[max(measured)] if measured else AS_IS
