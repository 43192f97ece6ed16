from .mixed_batch_sampler import MixedBatchSampler

__all__ = ['MixedBatchSampler']
