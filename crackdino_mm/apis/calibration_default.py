"""The calibration ``adapt_to_site`` applies by default to k labelled
photos: the rule chosen leave-one-site-out over eight sites and the three
DeepCrack source models (``benchmarks/site_adaptation_cpu.py``; README,
"A new site"). ``tests/test_calibration_default.py`` checks that the
committed record still chooses these."""
from typing import NamedTuple


class CalibrationRule(NamedTuple):
    """``scale``: whether the test-time scale is chosen too (else the
    stored one stays); ``min_gain``: F points the photos' F must gain over
    the stored calibration before it changes (``inf``: never, the
    checkpoint as is); ``num_thresholds``: the threshold grid (99: steps
    of 0.01; 19: 0.05)."""
    scale: bool
    min_gain: float
    num_thresholds: int


#: The checkpoint's calibration, kept whatever the photos say.
AS_IS = CalibrationRule(False, float('inf'), 99)
#: Labelled photos k -> the rule chosen for k (``default_rule``).
DEFAULT_RULES = {
    1: CalibrationRule(False, 20.0, 19),
    3: CalibrationRule(False, 20.0, 19),
    5: CalibrationRule(False, 20.0, 99),
    10: CalibrationRule(True, 0.0, 99),
}


def default_rule(k: int) -> CalibrationRule:
    """The rule of the largest measured k not above ``k`` (more photos
    than measured take the last; none, the checkpoint as is)."""
    measured = [n for n in DEFAULT_RULES if n <= k]
    return DEFAULT_RULES[max(measured)] if measured else AS_IS
