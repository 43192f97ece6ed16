from .decision_threshold_hook import DecisionThresholdHook

__all__ = ['DecisionThresholdHook']
