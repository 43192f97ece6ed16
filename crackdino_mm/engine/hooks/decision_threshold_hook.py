from typing import Optional

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils import apply_calibration, check_threshold, stored_calibration


@HOOKS.register_module()
class DecisionThresholdHook(Hook):
    """Apply a checkpoint's decision threshold when the runner loads it.

    After ``load_from`` or ``--resume`` loads a checkpoint, the decode
    head's ``threshold`` becomes ``threshold`` if given, else the
    checkpoint's ``meta['decision_threshold']`` (written by
    ``tools/choose_threshold.py``); without either the config's stays.
    So ``tools/test.py`` and MMSeg's own ``test.py`` score a model at the
    threshold chosen for it.

    Args:
        threshold (float, optional): Threshold to use whatever the
            checkpoint says (``tools/test.py --threshold``).
    """

    def __init__(self, threshold: Optional[float] = None):
        self.threshold = None if threshold is None else check_threshold(
            threshold, 'DecisionThresholdHook')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        threshold = self.threshold
        source = 'given'
        if threshold is None:
            threshold = stored_calibration(checkpoint)['threshold']
            source = 'from the checkpoint'
        if threshold is not None:
            apply_calibration(runner.model, threshold=threshold)
            runner.logger.info(f'decision threshold {threshold} ({source})')
