"""A hook that SIGKILLs its own process at a chosen point of training (the
worker side of test_checkpoint_resume.py; imported through custom_imports)."""
import os
import signal

from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class KillAt(Hook):
    """Kill the process at iteration ``iteration`` (1-based): after its
    training step (before its checkpoint), or, with ``while_saving``, while
    its checkpoint is being written."""

    def __init__(self, iteration: int, while_saving: bool = False):
        self.iteration = iteration
        self.while_saving = while_saving

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if not self.while_saving and runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)

    def before_save_checkpoint(self, runner, checkpoint):
        if self.while_saving and checkpoint['meta']['iter'] == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)
