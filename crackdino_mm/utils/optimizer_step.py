"""The runner's optimizer step, for components that act every N steps.

A model's own counter would restart at 0 on ``--resume`` and count
micro-batches under gradient accumulation; the runner's iteration does
neither. ``RuntimeInfoHook`` publishes it as the message hub's ``iter``
before each training iteration, and ``DeviceAwareRunner`` publishes the
optimizer's ``accumulative_counts`` under ``ACCUMULATION_KEY``.
"""
from mmengine.logging import MessageHub

#: Message-hub info key of the number of micro-batches per optimizer step.
ACCUMULATION_KEY = 'accumulative_counts'


def optimizer_step() -> int:
    """Index of the current optimizer step (0 outside a runner)."""
    hub = MessageHub.get_current_instance()
    iteration = int(hub.get_info('iter', 0))
    return iteration // max(int(hub.get_info(ACCUMULATION_KEY, 1)), 1)


def is_due(interval: int) -> bool:
    """Whether the current optimizer step is a multiple of ``interval``
    (every micro-batch of that step is)."""
    return interval > 0 and optimizer_step() % interval == 0
