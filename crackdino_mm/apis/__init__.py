from .crack_inferencer import CrackInferencer
from .crack_predictor import CrackPredictor
from .decision_threshold import (META_KEY, apply_threshold, read_threshold,
                                 set_threshold, write_threshold)
from .model_loader import (deployable_config, deployable_state_dict,
                           init_crack_model, load_checkpoint_file)

__all__ = [
    'CrackInferencer', 'CrackPredictor', 'META_KEY', 'apply_threshold',
    'deployable_config', 'deployable_state_dict', 'init_crack_model',
    'load_checkpoint_file', 'read_threshold', 'set_threshold',
    'write_threshold'
]
