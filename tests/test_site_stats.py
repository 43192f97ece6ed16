"""Site-level statistics against a hand calculation: the mean over sites,
its 95 % CI, p, the prediction interval for a new site, and Holm."""
import math

import pytest
from scipy import stats

from script_modules import script_module

site_stats = script_module('benchmarks/harness/site_stats.py')


def test_four_sites_by_hand():
    means = {'A': 1.0, 'B': 2.0, 'C': 3.0, 'D': 6.0}
    # mean 3; squared deviations 4 + 1 + 0 + 9 = 14; sd = sqrt(14 / 3)
    sd = math.sqrt(14 / 3)
    t = stats.t.ppf(0.975, 3)  # 3.182..., df = sites - 1
    half = t * sd / math.sqrt(4)
    pi_half = t * sd * math.sqrt(1 + 1 / 4)
    t_stat = 3 / (sd / 2)
    out = site_stats.across_sites(means)
    assert out['n'] == 4 and out['mean'] == pytest.approx(3)
    assert out['sd'] == pytest.approx(sd)
    assert (out['low'], out['high']) == pytest.approx((3 - half, 3 + half))
    assert (out['pi_low'], out['pi_high']) == pytest.approx(
        (3 - pi_half, 3 + pi_half))
    assert out['p'] == pytest.approx(2 * stats.t.sf(t_stat, 3))
    assert out['p'] == pytest.approx(
        stats.ttest_1samp([1, 2, 3, 6], 0).pvalue)
    assert out['pi_high'] - out['pi_low'] > out['high'] - out['low']


def test_one_site_says_it_has_no_interval():
    out = site_stats.across_sites({'A': 2.5})
    assert out['mean'] == 2.5
    assert out['low'] is None and out['p'] is None and out['pi_low'] is None
    assert 'one site' in out['note']


def test_zero_variance_gives_a_point_and_says_so():
    out = site_stats.across_sites({'A': 2.0, 'B': 2.0, 'C': 2.0})
    assert out['low'] == out['high'] == out['pi_low'] == 2.0
    assert out['p'] == 0.0 and 'zero variance' in out['note']
    assert site_stats.across_sites({'A': 0.0, 'B': 0.0})['p'] == 1.0


def test_no_site_is_an_error():
    with pytest.raises(ValueError, match='no site'):
        site_stats.across_sites({})


def test_site_mean_over_the_draws_it_has():
    means = site_stats.site_means({'A': {0: 1.0, 1: 3.0, 2: None},
                                   'B': {0: 4.0}, 'C': {}})
    assert means == {'A': 2.0, 'B': 4.0}


def test_a_site_mean_weighs_each_training_seed_alike():
    # seed 0: five draws, mean 1; seed 1: one draw, 7; seed 2: 4 and None
    means = site_stats.site_means({'A': {0: 0.0, 1: 2.0, 2: 1.0, 3: 0.5,
                                         4: 1.5, (1, 0): 7.0, (2, 0): 4.0,
                                         (2, 1): None}})
    assert means == {'A': pytest.approx((1.0 + 7.0 + 4.0) / 3)}


def test_contrast_pairs_draws_within_a_site_and_names_missing_sites():
    a = {'A': {0: 5.0, 1: 7.0, 2: 9.0}, 'B': {0: 1.0}, 'C': {0: 3.0}}
    b = {'A': {0: 4.0, 1: 4.0}, 'B': {0: 2.0}, 'C': {1: 3.0}}
    out = site_stats.site_contrast(a, b)
    # A: draws 0 and 1 shared, differences 1 and 3 -> 2; B: -1; C: none
    assert out['sites'] == {'A': 2.0, 'B': -1.0}
    assert out['missing'] == ['C'] and out['draws'] == {'A': 2, 'B': 1}
    assert out['mean'] == pytest.approx(0.5)


def test_holm_by_hand():
    p = {'a': 0.01, 'b': 0.04, 'c': 0.03, 'd': 0.005}
    # sorted d, a, c, b: 4 x 0.005, 3 x 0.01, 2 x 0.03, 1 x 0.04 -> 0.06
    # (kept monotone: never below the step before)
    adjusted = site_stats.holm(p)
    assert adjusted == pytest.approx(
        {'d': 0.02, 'a': 0.03, 'c': 0.06, 'b': 0.06})
    assert site_stats.holm({'x': 0.6, 'y': 0.5}) == {'x': 1.0, 'y': 1.0}


def test_holm_refuses_a_missing_p():
    with pytest.raises(ValueError, match="'x' has p=None"):
        site_stats.holm({'x': None, 'y': 0.1})


def test_reanalyse_reads_the_benchmark_keys():
    results = {}
    for site, base, gain in (('S1', 10, 1.0), ('S2', 20, 3.0),
                             ('S3', 30, 2.0)):
        for d in range(3):
            results[f'm/{site}/none/k0/d{d}'] = dict(iou=base)
            results[f'm/{site}/threshold/k1/d{d}'] = dict(
                iou=base + gain + (d - 1) * 0.5)
            results[f'm/{site}/threshold/k5/d{d}'] = dict(iou=base)
    rows = site_stats.reanalyse(results, [
        ('k1', ('m', 'threshold', 1), ('m', 'none', 0)),
        ('k5', ('m', 'threshold', 5), ('m', 'none', 0))])
    assert rows[0]['sites'] == pytest.approx({'S1': 1, 'S2': 3, 'S3': 2})
    assert rows[0]['p'] == pytest.approx(
        stats.ttest_1samp([1, 3, 2], 0).pvalue)
    assert rows[0]['p_holm'] == pytest.approx(min(1, 2 * rows[0]['p']))
    assert rows[1]['p'] == 1.0 and rows[1]['p_holm'] == 1.0
    with pytest.raises(KeyError, match='no result'):
        site_stats.reanalyse(results, [('x', ('m', 'finetune', 1),
                                        ('m', 'none', 0))])
    assert '| k1 |' in site_stats.table(rows, ('S1', 'S2', 'S3'))


def test_seeds_join_a_site_mean_and_missing_contrasts_can_be_skipped():
    """A source's other training seeds (``name@sS``) enter each site's
    mean beside seed 0's draws; a contrast without results is left out
    of the family with ``skip_missing``."""
    results = {}
    for site, gains in (('S1', (1.0, 3.0)), ('S2', (2.0, 4.0)),
                        ('S3', (0.0, 2.0))):
        for seed, gain in enumerate(gains):
            name = 'm' if not seed else f'm@s{seed}'
            for d in range(2):
                results[f'{name}/{site}/none/k0/d{d}'] = dict(iou=10.0)
                results[f'{name}/{site}/finetune/k5/d{d}'] = dict(
                    iou=10.0 + gain)
    results['other@sx/S1/finetune/k5/d0'] = dict(iou=99.0)
    draws = site_stats.arm_draws(results, ('m', 'finetune', 5))
    assert draws['S1'] == {0: 11.0, 1: 11.0, (1, 0): 13.0, (1, 1): 13.0}
    rows = site_stats.reanalyse(results, [
        ('ft', ('m', 'finetune', 5), ('m', 'none', 0)),
        ('absent', ('m', 'finetune', 10), ('m', 'none', 0))],
        skip_missing=True)
    assert [row['name'] for row in rows] == ['ft']
    assert rows[0]['sites'] == pytest.approx({'S1': 2, 'S2': 3, 'S3': 1})
    assert rows[0]['draws'] == {'S1': 4, 'S2': 4, 'S3': 4}
    assert rows[0]['p_holm'] == rows[0]['p']
