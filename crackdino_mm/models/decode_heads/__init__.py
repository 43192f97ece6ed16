from .lipschitz_head import LipschitzHead

__all__ = ['LipschitzHead']
