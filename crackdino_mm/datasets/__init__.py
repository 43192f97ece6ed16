from .synthetic_crack import SyntheticCrackDataset

__all__ = ['SyntheticCrackDataset']
