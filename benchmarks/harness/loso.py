"""Leave-one-site-out choice of an adaptation rule (a parameter set: which
steps, the calibration margin, the threshold grid, ...).

For each site in turn, a rule is chosen on the other sites by ``CRITERION``
and scored on the held-out one, so that the score of the choice is never
read on a site that made it. The rule chosen on all sites is the default.
Inputs are per-case values (a case: one source model at one site, its
mean over draws), higher better, for every candidate rule and for the
checkpoint as is; ``site_of`` names each case's site (default: the case is
the site). A site's value is the mean over its cases, so the site stays
the unit however many source models it was measured with.
"""
from collections import defaultdict
from typing import Callable, Dict, Mapping, Optional, Sequence

#: The implicit candidate: the checkpoint as it is, gain 0 everywhere.
AS_IS = 'as is'
CRITERION = ('the largest mean gain over as is (mean over sites of each '
             "site's mean over its source models) among the rules never "
             'worse than as is, by more than the tolerance, for any source '
             'model at any training site; equal gains go to the simpler '
             'rule (earlier in the list), and with no such rule, as is')


def _gains(scores, as_is, rules, cases) -> Dict[str, Dict[str, float]]:
    """{rule: {case: score - as is}}, each value present or a KeyError
    naming it."""
    gains = {AS_IS: {case: 0.0 for case in cases}}
    for rule in rules:
        gains[rule] = {}
        for case in cases:
            if case not in as_is:
                raise KeyError(f'loso: site {case!r} has no as-is score')
            if rule not in scores.get(case, {}):
                raise KeyError(f'loso: site {case!r} has no score for rule '
                               f'{rule!r}')
            gains[rule][case] = scores[case][rule] - as_is[case]
    return gains


def _by_site(values: Mapping[str, float], site_of) -> Dict[str, float]:
    """{site: mean of its cases' values}."""
    grouped = defaultdict(list)
    for case, value in values.items():
        grouped[site_of(case)].append(value)
    return {site: sum(v) / len(v) for site, v in grouped.items()}


def choose_rule(scores: Mapping[str, Mapping[str, float]],
                as_is: Mapping[str, float], rules: Sequence[str],
                cases: Sequence[str], tolerance: float = 0.0,
                site_of: Optional[Callable[[str], str]] = None) -> dict:
    """The rule ``CRITERION`` picks on ``cases``: ``rule``, its
    ``mean_gain`` (over sites) and ``worst_gain`` (over cases) there, and
    the ``safe`` rules."""
    if not cases:
        raise ValueError('loso: no site to choose a rule on')
    site_of = site_of or (lambda case: case)
    gains = _gains(scores, as_is, rules, cases)
    safe = [rule for rule in [AS_IS, *rules]
            if min(gains[rule].values()) >= -tolerance]
    mean = {rule: _mean(_by_site(gains[rule], site_of)) for rule in safe}
    # max() keeps the first of equal gains: the simpler rule.
    rule = max(safe, key=lambda r: mean[r])
    return dict(rule=rule, mean_gain=mean[rule],
                worst_gain=min(gains[rule].values()), safe=safe)


def _mean(values: Mapping[str, float]) -> float:
    return sum(values.values()) / len(values)


def leave_one_site_out(scores: Mapping[str, Mapping[str, float]],
                       as_is: Mapping[str, float], rules: Sequence[str],
                       tolerance: float = 0.0,
                       site_of: Optional[Callable[[str], str]] = None
                       ) -> dict:
    """Choose on all sites but one, score on that one, for each site.

    ``scores[case][rule]``: the case's held-out score under ``rule`` (mean
    over draws); ``as_is[case]``: the checkpoint's; ``rules`` simplest
    first; ``site_of(case)``: its site. Returns the ``folds`` (held-out
    ``site``, the ``rule`` chosen without it, its ``score``, ``as_is`` and
    ``gain`` there, means over the site's cases, and each case's gain in
    ``cases``), the ``mean_gain`` and ``mean_score`` over folds, the
    ``worst`` fold, the ``worst_case`` (case, gain) and the ``default``:
    the rule chosen on all sites.
    """
    site_of = site_of or (lambda case: case)
    cases = sorted(as_is)
    sites = sorted({site_of(case) for case in cases})
    if len(sites) < 2:
        raise ValueError(f'loso: needs two sites or more, got {sites}')
    if AS_IS in rules:
        raise ValueError(f'loso: {AS_IS!r} is always a candidate; do not '
                         'list it among the rules')
    gains = _gains(scores, as_is, rules, cases)
    folds = []
    for held in sites:
        rule = choose_rule(scores, as_is, rules,
                           [c for c in cases if site_of(c) != held],
                           tolerance, site_of)['rule']
        mine = [c for c in cases if site_of(c) == held]
        base = sum(as_is[c] for c in mine) / len(mine)
        gain = sum(gains[rule][c] for c in mine) / len(mine)
        folds.append(dict(site=held, rule=rule, as_is=base,
                          score=base + gain, gain=gain,
                          cases={c: gains[rule][c] for c in mine}))
    worst_case = min(((c, g) for f in folds for c, g in f['cases'].items()),
                     key=lambda pair: pair[1])
    return dict(
        folds=folds,
        mean_gain=sum(f['gain'] for f in folds) / len(folds),
        mean_score=sum(f['score'] for f in folds) / len(folds),
        worst=min(folds, key=lambda f: f['gain']),
        worst_case=dict(case=worst_case[0], gain=worst_case[1]),
        default=choose_rule(scores, as_is, rules, cases, tolerance,
                            site_of),
        criterion=CRITERION, tolerance=tolerance)
