from .adapt import adapt_to_site
from .crack_inferencer import CrackInferencer
from .crack_predictor import CrackPredictor
from .model_loader import (calibrated_config, deployable_config,
                           deployable_state_dict, init_crack_model,
                           load_checkpoint_file)
from .site_calibration import choose_calibration, map_scores
from .site_norm_stats import reestimate_norm_stats
from .site_photos import SitePhoto, load_site_photos

__all__ = [
    'CrackInferencer', 'CrackPredictor', 'SitePhoto', 'adapt_to_site',
    'calibrated_config', 'choose_calibration', 'deployable_config', 'deployable_state_dict',
    'init_crack_model', 'load_checkpoint_file', 'load_site_photos',
    'map_scores', 'reestimate_norm_stats'
]
