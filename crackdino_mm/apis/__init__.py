"""The package's public surface for tools and users: load a deployable
model, predict, calibrate and adapt it to a site."""
from ..datasets.crack_folder import IMAGE_SUFFIXES
from ..engine.hooks import CheckpointMismatch
from ..evaluation import ods_threshold
from ..utils import (SCALE_GRID, MissingConfigFile, apply_calibration,
                     atomic_write, crack_probability, read_calibration,
                     save_atomically, seg_logits_probability,
                     write_calibration)
from .adapt import (FINETUNE_ITERS, MAX_UNLABELLED, MIN_FINETUNE_PHOTOS,
                    adapt_to_site)
from .crack_inferencer import CrackInferencer
from .crack_predictor import CrackPredictor
from .model_loader import (calibrated_config, deployable_config,
                           deployable_state_dict, init_crack_model,
                           load_checkpoint_file, scalable_config)
from .output_paths import check_output_file, check_output_folder
from .ready_model import (READY_CPU_CHECKPOINT, READY_CPU_CONFIG,
                          ready_model_command)
from .robustness import PixelSpaceAttack, evaluate_attacks, segmentation_loss
from .site_calibration import choose_calibration, map_scores
from .site_norm_stats import reestimate_norm_stats
from .site_photos import SitePhoto, load_site_photos
from .tool_arguments import OneLineParser, scale_argument, threshold_argument

__all__ = [
    'CheckpointMismatch', 'CrackInferencer', 'CrackPredictor',
    'FINETUNE_ITERS', 'IMAGE_SUFFIXES', 'MAX_UNLABELLED',
    'MIN_FINETUNE_PHOTOS', 'MissingConfigFile', 'OneLineParser', 'PixelSpaceAttack', 'READY_CPU_CHECKPOINT',
    'READY_CPU_CONFIG', 'SCALE_GRID', 'SitePhoto', 'adapt_to_site',
    'apply_calibration', 'atomic_write', 'calibrated_config',
    'check_output_file', 'check_output_folder', 'choose_calibration',
    'crack_probability', 'deployable_config', 'deployable_state_dict',
    'evaluate_attacks', 'init_crack_model', 'load_checkpoint_file',
    'load_site_photos', 'map_scores', 'ods_threshold', 'read_calibration',
    'ready_model_command', 'reestimate_norm_stats', 'save_atomically',
    'scalable_config', 'scale_argument', 'seg_logits_probability',
    'segmentation_loss', 'threshold_argument', 'write_calibration'
]
