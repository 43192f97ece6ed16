from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS
from tqdm import tqdm


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """A progress bar over the training iterations, with their rate and the
    time left (tqdm's), on the main process: the logger hook prints only
    every ``interval`` steps, which leaves a short run silent for minutes
    (site fine-tuning on a CPU).

    Args:
        desc (str): The bar's label.
    """

    priority = 'VERY_LOW'

    def __init__(self, desc: str = 'training'):
        self.desc = desc
        self.bar: Optional[tqdm] = None

    def before_train(self, runner) -> None:
        if is_main_process():
            self.bar = tqdm(total=runner.max_iters, initial=runner.iter,
                            desc=self.desc, unit='step')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def after_train(self, runner) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
