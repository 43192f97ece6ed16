from .crack_inferencer import CrackInferencer
from .crack_predictor import CrackPredictor
from .model_loader import (deployable_config, deployable_state_dict,
                           init_crack_model, load_checkpoint_file)

__all__ = [
    'CrackInferencer', 'CrackPredictor', 'deployable_config',
    'deployable_state_dict', 'init_crack_model', 'load_checkpoint_file'
]
