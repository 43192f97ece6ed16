from .hooks import DecisionThresholdHook

__all__ = ['DecisionThresholdHook']
