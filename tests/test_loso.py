"""Leave-one-site-out choice of an adaptation rule on toy sites whose
answer is known by hand."""
import pytest

from script_modules import script_module

loso = script_module('benchmarks/harness/loso.py')

AS_IS = {'A': 30.0, 'B': 20.0, 'C': 10.0, 'D': 40.0}


def scores(gains):
    """{site: {rule: as is + gain}} from {rule: [gain at A, B, C, D]}."""
    return {site: {rule: AS_IS[site] + g[i] for rule, g in gains.items()}
            for i, site in enumerate(sorted(AS_IS))}


def test_the_best_rule_on_average_that_hurts_a_site_is_not_the_default():
    # 'bold' gains most on average (+6.25) but loses 5 at D; 'safe' gains
    # 1 everywhere.
    toy = scores({'safe': [1, 1, 1, 1], 'bold': [10, 10, 10, -5]})
    out = loso.leave_one_site_out(toy, AS_IS, ['safe', 'bold'])
    assert out['default']['rule'] == 'safe'
    assert out['default']['safe'] == [loso.AS_IS, 'safe']
    # Holding out A, B or C, D is among the training sites and 'bold' is
    # refused; holding out D, 'bold' is safe on A, B, C and wins (+10), and
    # loses 5 on D: leave-one-site-out shows the risk the choice carries.
    assert {f['site']: f['rule'] for f in out['folds']} == {
        'A': 'safe', 'B': 'safe', 'C': 'safe', 'D': 'bold'}
    assert [f['gain'] for f in out['folds']] == [1, 1, 1, -5]
    assert out['mean_gain'] == pytest.approx((1 + 1 + 1 - 5) / 4)
    assert out['mean_score'] == pytest.approx((31 + 21 + 11 + 35) / 4)
    assert out['worst']['site'] == 'D' and out['worst']['score'] == 35


def test_equal_gains_go_to_the_simpler_rule():
    toy = scores({'simple': [2, 2, 2, 2], 'complex': [3, 1, 2, 2]})
    out = loso.leave_one_site_out(toy, AS_IS, ['simple', 'complex'])
    assert out['default']['rule'] == 'simple'
    # Without A, 'complex' averages 5/3 < 2; without B, 7/3 > 2.
    assert {f['site']: f['rule'] for f in out['folds']} == {
        'A': 'simple', 'B': 'complex', 'C': 'simple', 'D': 'simple'}


def test_no_safe_rule_keeps_the_checkpoint_as_is():
    toy = scores({'r': [5, -1, 5, 5], 'q': [-1, 4, 4, 4]})
    out = loso.leave_one_site_out(toy, AS_IS, ['r', 'q'])
    assert out['default']['rule'] == loso.AS_IS
    assert out['default']['mean_gain'] == 0
    # Without B, 'r' is safe (+5); without A, 'q' (+4); otherwise as is.
    assert [(f['site'], f['rule'], f['gain']) for f in out['folds']] == [
        ('A', 'q', -1), ('B', 'r', -1), ('C', loso.AS_IS, 0),
        ('D', loso.AS_IS, 0)]
    # A tolerance of 1 point lets both in; 'r' gains more.
    assert loso.leave_one_site_out(toy, AS_IS, ['r', 'q'], tolerance=1)[
        'default']['rule'] == 'r'


def test_missing_scores_and_too_few_sites_are_named():
    toy = scores({'r': [1, 1, 1, 1]})
    del toy['C']['r']
    with pytest.raises(KeyError, match="site 'C' has no score for rule 'r'"):
        loso.leave_one_site_out(toy, AS_IS, ['r'])
    with pytest.raises(ValueError, match='two sites or more'):
        loso.leave_one_site_out({'A': {'r': 1}}, {'A': 0.0}, ['r'])
    with pytest.raises(ValueError, match='always a candidate'):
        loso.leave_one_site_out(scores({}), AS_IS, [loso.AS_IS])


def test_sources_at_a_site_count_as_one_site_and_each_must_not_lose():
    # Two source models at sites A-C. 'r' gains 6 for source x everywhere
    # but loses 1 for source y at C; 'q' gains 2 for both everywhere.
    gains = {'x@A': (6, 2), 'y@A': (0, 2), 'x@B': (6, 2), 'y@B': (0, 2),
             'x@C': (6, 2), 'y@C': (-1, 2)}
    as_is = {case: 10.0 for case in gains}
    toy = {case: {'r': 10 + r, 'q': 10 + q}
           for case, (r, q) in gains.items()}

    def site_of(case):
        return case.split('@')[1]

    out = loso.leave_one_site_out(toy, as_is, ['r', 'q'], site_of=site_of)
    # On all sites 'r' loses for y at C: refused although its mean over
    # sites (+2.83) beats 'q' (+2).
    assert out['default']['rule'] == 'q'
    assert out['default']['mean_gain'] == pytest.approx(2)
    # Without C, 'r' is safe and gains (6 + 0) / 2 = 3 per site: chosen,
    # and at C it scores the mean of its sources, (6 - 1) / 2.
    folds = {f['site']: f for f in out['folds']}
    assert [f['site'] for f in out['folds']] == ['A', 'B', 'C']
    assert folds['C']['rule'] == 'r'
    assert folds['C']['gain'] == pytest.approx(2.5)
    assert folds['C']['cases'] == {'x@C': 6, 'y@C': -1}
    assert folds['A']['rule'] == 'q' and folds['A']['as_is'] == 10
    assert out['worst_case'] == dict(case='y@C', gain=-1)
    assert out['mean_gain'] == pytest.approx((2 + 2 + 2.5) / 3)
    # Two cases of one site are not two sites.
    with pytest.raises(ValueError, match='two sites or more'):
        loso.leave_one_site_out(
            {c: toy[c] for c in ('x@A', 'y@A')},
            {c: 10.0 for c in ('x@A', 'y@A')}, ['r'], site_of=site_of)
