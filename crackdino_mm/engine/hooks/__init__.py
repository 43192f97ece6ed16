from .atomic_checkpoint_hook import AtomicCheckpointHook
from .decision_threshold_hook import DecisionThresholdHook

__all__ = ['AtomicCheckpointHook', 'DecisionThresholdHook']
