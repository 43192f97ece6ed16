from .load_crack_annotations import LoadCrackAnnotations, binarize_crack_mask
from .rot90 import Rot90

__all__ = ['LoadCrackAnnotations', 'Rot90', 'binarize_crack_mask']
