from .cafm import CAFM

__all__ = ['CAFM']
