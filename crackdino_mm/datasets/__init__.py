from .crack_folder import CrackFolderDataset
from .deepcrack import DeepCrackDataset
from .samplers import MixedBatchSampler
from .synthetic_crack import SyntheticCrackDataset
from .transforms import LoadCrackAnnotations, Rot90, binarize_crack_mask

__all__ = [
    'CrackFolderDataset', 'DeepCrackDataset', 'MixedBatchSampler',
    'SyntheticCrackDataset',
    'LoadCrackAnnotations', 'Rot90', 'binarize_crack_mask'
]
