from typing import Optional

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils import apply_calibration, check_scale, check_threshold, \
    stored_calibration


@HOOKS.register_module()
class DecisionThresholdHook(Hook):
    """Apply a checkpoint's calibration when the runner loads it.

    After ``load_from`` or ``--resume`` loads a checkpoint, the decode
    head's threshold and the preprocessor's test-time scale become
    ``threshold``/``scale`` if given, else the checkpoint's (its meta's
    ``decision_threshold`` and ``test_scale``, written by
    ``tools/choose_threshold.py`` and ``tools/adapt.py``); without either
    the config's stay. So ``tools/test.py`` and MMSeg's own ``test.py``
    score a model as it was calibrated. A scale other than 1 needs a
    preprocessor that resizes: ``tools/test.py`` builds every model from
    ``scalable_config``; for MMSeg's own ``test.py``, use the config that
    ``tools/adapt.py --out-config`` writes.

    Args:
        threshold (float, optional): Threshold to use whatever the
            checkpoint says (``tools/test.py --threshold``).
        scale (float, optional): Test-time scale to use whatever the
            checkpoint says (``tools/test.py --scale``).
    """

    def __init__(self, threshold: Optional[float] = None,
                 scale: Optional[float] = None):
        self.threshold = None if threshold is None else check_threshold(
            threshold, 'DecisionThresholdHook')
        self.scale = None if scale is None else check_scale(
            scale, 'DecisionThresholdHook')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        stored = stored_calibration(checkpoint)
        used = apply_calibration(
            runner.model,
            stored['threshold'] if self.threshold is None else self.threshold,
            stored['scale'] if self.scale is None else self.scale)
        runner.logger.info(
            f"decision threshold {used['threshold']}, test-time scale "
            f"{used['scale']} (given: threshold {self.threshold}, scale "
            f"{self.scale}; stored in the checkpoint: {stored})")
