"""Endless shuffled batches that mix a two-source dataset in a fixed
proportion: labelled and unlabelled photos, say."""
import itertools
from typing import Iterator, Optional

import torch
from mmengine.dataset import ConcatDataset, InfiniteSampler
from mmseg.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class MixedBatchSampler(InfiniteSampler):
    """Indices of a two-source ``ConcatDataset`` in runs of ``batch_size``
    (the dataloader's), each run ``first_per_batch`` samples of the first
    source and the rest of the second, whatever their sizes; each source
    is reshuffled at every pass.

    Written here because mmengine and mmseg ship no such sampler, and a
    shuffled sampler over the concatenation mixes the sources only on
    average: a batch without a labelled photo leaves the segmentation loss
    nothing to score. Each rank draws its own stream (seed + rank), so
    every rank's batches keep the mix.
    """

    def __init__(self, dataset: ConcatDataset, batch_size: int,
                 first_per_batch: int, shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        if not isinstance(dataset, ConcatDataset) or len(
                dataset.datasets) != 2:
            raise TypeError('MixedBatchSampler needs a ConcatDataset of two '
                            f'datasets, got {type(dataset).__name__}')
        if not 0 < first_per_batch < batch_size:
            raise ValueError(f'first_per_batch must be in (0, batch_size='
                             f'{batch_size}), got {first_per_batch}')
        self.batch_size, self.first_per_batch = batch_size, first_per_batch
        super().__init__(dataset, shuffle=shuffle, seed=seed)

    def _source(self, start: int, size: int,
                generator: torch.Generator) -> Iterator[int]:
        while True:
            order = torch.randperm(size, generator=generator) \
                if self.shuffle else torch.arange(size)
            yield from (order + start).tolist()

    def _infinite_indices(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.rank)
        first_size = len(self.dataset.datasets[0])
        first = self._source(0, first_size, generator)
        second = self._source(first_size, self.size - first_size, generator)
        while True:
            yield from itertools.islice(first, self.first_per_batch)
            yield from itertools.islice(second,
                                        self.batch_size - self.first_per_batch)

    def _indices_of_rank(self) -> Iterator[int]:
        return self._infinite_indices()
