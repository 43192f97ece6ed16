from .atomic_local_backend import AtomicLocalBackend
from .hooks import AtomicCheckpointHook, DecisionThresholdHook
from .runner import DeviceAwareRunner

__all__ = [
    'AtomicLocalBackend', 'AtomicCheckpointHook', 'DecisionThresholdHook',
    'DeviceAwareRunner'
]
