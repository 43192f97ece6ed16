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
