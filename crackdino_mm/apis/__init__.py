from .crack_inferencer import CrackInferencer
from .decision_threshold import (META_KEY, apply_threshold, read_threshold,
                                 set_threshold, write_threshold)

__all__ = [
    'CrackInferencer', 'META_KEY', 'apply_threshold', 'read_threshold',
    'set_threshold', 'write_threshold'
]
