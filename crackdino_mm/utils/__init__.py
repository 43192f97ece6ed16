from .atomic_files import atomic_write, save_atomically
from .calibration import (SCALE_GRID, SCALE_KEY, THRESHOLD_KEY,
                          apply_calibration, check_scale, check_threshold,
                          read_calibration, stored_calibration,
                          write_calibration)
from .config_files import MissingConfigFile, check_config_files
from .crack_probability import crack_probability, seg_logits_probability

__all__ = [
    'MissingConfigFile', 'SCALE_GRID', 'SCALE_KEY', 'THRESHOLD_KEY',
    'apply_calibration', 'atomic_write', 'check_config_files',
    'check_scale', 'check_threshold', 'crack_probability',
    'read_calibration', 'save_atomically', 'seg_logits_probability',
    'stored_calibration', 'write_calibration'
]
