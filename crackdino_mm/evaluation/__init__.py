from .crack_metric import CrackMetric

__all__ = ['CrackMetric']
