from .load_crack_annotations import LoadCrackAnnotations, binarize_crack_mask

__all__ = ['LoadCrackAnnotations', 'binarize_crack_mask']
