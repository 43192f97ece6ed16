"""MixedBatchSampler: every batch holds a fixed share of each source."""
import itertools

import pytest
from mmengine.dataset import BaseDataset, ConcatDataset
from mmseg.registry import DATA_SAMPLERS

import crackdino_mm  # noqa: F401  (registers the sampler)


class Numbers(BaseDataset):
    """``count`` samples, nothing to load."""

    def __init__(self, count):
        self.count = count
        super().__init__(lazy_init=False, serialize_data=False)

    def load_data_list(self):
        return [dict(i=i) for i in range(self.count)]


def sampler(first=3, second=50, batch=8, first_per_batch=4, seed=0):
    return DATA_SAMPLERS.build(dict(
        type='MixedBatchSampler', batch_size=batch,
        first_per_batch=first_per_batch), default_args=dict(
            dataset=ConcatDataset([Numbers(first), Numbers(second)]),
            seed=seed))


def batches(indices, batch=8, count=100):
    it = iter(indices)
    return [list(itertools.islice(it, batch)) for _ in range(count)]


def test_every_batch_holds_the_asked_share_of_each_source():
    for run in batches(sampler()):
        assert sum(i < 3 for i in run) == 4
        assert all(0 <= i < 53 for i in run)
    runs = batches(sampler(first=20, second=2, first_per_batch=6))
    assert all(sum(i < 20 for i in run) == 6 for run in runs)


def test_each_source_is_covered_at_every_pass():
    runs = batches(sampler(first=3, second=10), count=5)
    second = [i for run in runs for i in run if i >= 3]
    assert sorted(second[:10]) == list(range(3, 13))
    assert sorted(second[10:20]) == list(range(3, 13))


def test_a_seed_repeats_its_stream_and_skip_resumes_it():
    assert batches(sampler(seed=1)) == batches(sampler(seed=1))
    assert batches(sampler(seed=1)) != batches(sampler(seed=2))
    resumed = sampler(seed=1)
    resumed.skip(16)
    assert batches(resumed, count=3) == batches(sampler(seed=1),
                                                count=5)[2:]


def test_ranks_draw_their_own_stream_with_the_same_mix():
    other = sampler()
    other.rank = 1
    other.indices = other._indices_of_rank()
    runs = batches(other)
    assert runs != batches(sampler())
    assert all(sum(i < 3 for i in run) == 4 for run in runs)


def test_wrong_datasets_or_shares_are_named():
    with pytest.raises(TypeError, match='ConcatDataset of two'):
        DATA_SAMPLERS.build(dict(type='MixedBatchSampler', batch_size=4,
                                 first_per_batch=2),
                            default_args=dict(dataset=Numbers(5), seed=0))
    with pytest.raises(ValueError, match='first_per_batch'):
        sampler(first_per_batch=8)
