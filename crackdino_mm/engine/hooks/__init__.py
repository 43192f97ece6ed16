from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_fit_hook import CheckpointFitHook, CheckpointMismatch
from .decision_threshold_hook import DecisionThresholdHook
from .progress_bar_hook import ProgressBarHook

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'CheckpointMismatch',
    'DecisionThresholdHook', 'ProgressBarHook'
]
