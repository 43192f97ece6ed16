from .atomic_local_backend import AtomicLocalBackend
from .hooks import (AtomicCheckpointHook, DecisionThresholdHook,
                    ProgressBarHook)
from .runner import DeviceAwareRunner

__all__ = [
    'AtomicLocalBackend', 'AtomicCheckpointHook', 'DecisionThresholdHook',
    'DeviceAwareRunner', 'ProgressBarHook'
]
