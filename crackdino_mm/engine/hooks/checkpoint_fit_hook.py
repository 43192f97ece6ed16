"""Refuse a checkpoint that does not fit the model before testing it."""
import re

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import load_state_dict
from mmseg.registry import HOOKS


class CheckpointMismatch(ValueError):
    """A checkpoint whose weights do not fit the config's model (one line
    naming both files)."""


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Fail, naming the checkpoint and the config, when the loaded
    checkpoint's weights do not fit the model.

    mmengine's runner loads ``load_from`` with non-strict keys and only
    warns, so another model's checkpoint would be scored as a half-random
    model. This hook loads the weights once with strict keys when the
    runner loads the checkpoint (``tools/test.py`` adds it). What the
    model itself declares absent by design is not a mismatch: a deployable
    student in its distiller config stays quiet, as the distiller drops
    its teacher and centre groups from the missing keys.
    """

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Load ``checkpoint``'s weights strictly into the runner's model.

        Args:
            runner: The runner, whose ``cfg.filename`` and ``_load_from``
                name the config and the checkpoint.
            checkpoint (dict): The loaded checkpoint.

        Raises:
            CheckpointMismatch: Naming both files and the mismatched
                keys.
        """
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        state = checkpoint.get('state_dict', checkpoint)
        # The prefix that mmengine's runner strips as it loads.
        state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
        try:
            load_state_dict(model, state, strict=True)
        except RuntimeError as error:
            message = ' '.join(str(error).split())
            raise CheckpointMismatch(
                f'checkpoint {runner._load_from} does not fit the model of '
                f'{runner.cfg.filename}: {message}') from None
