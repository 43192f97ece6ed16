"""Leave-one-site-out choice of an adaptation rule (a parameter set: which
steps, the calibration margin, the threshold grid, ...).

For each site in turn, a rule is chosen on the other sites by ``CRITERION``
and scored on the held-out one, so that the score of the choice is never
read on a site that made it. The rule chosen on all sites is the default.
Inputs are per-site values (each site's mean over its draws), higher
better, for every candidate rule and for the checkpoint as is.
"""
from typing import Dict, Mapping, Sequence

#: The implicit candidate: the checkpoint as it is, gain 0 everywhere.
AS_IS = 'as is'
CRITERION = ('the largest mean gain over as is among the rules never worse '
             'than as is (by more than the tolerance) on any training site; '
             'equal gains go to the simpler rule (earlier in the list), and '
             'with no such rule, as is')


def _gains(scores, as_is, rules, sites) -> Dict[str, Dict[str, float]]:
    """{rule: {site: score - as is}}, each value present or a KeyError
    naming it."""
    gains = {AS_IS: {site: 0.0 for site in sites}}
    for rule in rules:
        gains[rule] = {}
        for site in sites:
            if site not in as_is:
                raise KeyError(f'loso: site {site!r} has no as-is score')
            if rule not in scores.get(site, {}):
                raise KeyError(f'loso: site {site!r} has no score for rule '
                               f'{rule!r}')
            gains[rule][site] = scores[site][rule] - as_is[site]
    return gains


def choose_rule(scores: Mapping[str, Mapping[str, float]],
                as_is: Mapping[str, float], rules: Sequence[str],
                sites: Sequence[str], tolerance: float = 0.0) -> dict:
    """The rule ``CRITERION`` picks on ``sites``: ``rule``, its
    ``mean_gain`` and ``worst_gain`` there, and the ``safe`` rules."""
    if not sites:
        raise ValueError('loso: no site to choose a rule on')
    gains = _gains(scores, as_is, rules, sites)
    safe = [rule for rule in [AS_IS, *rules]
            if min(gains[rule].values()) >= -tolerance]
    mean = {rule: sum(gains[rule].values()) / len(sites) for rule in safe}
    # max() keeps the first of equal gains: the simpler rule.
    rule = max(safe, key=lambda r: mean[r])
    return dict(rule=rule, mean_gain=mean[rule],
                worst_gain=min(gains[rule].values()), safe=safe)


def leave_one_site_out(scores: Mapping[str, Mapping[str, float]],
                       as_is: Mapping[str, float], rules: Sequence[str],
                       tolerance: float = 0.0) -> dict:
    """Choose on all sites but one, score on that one, for each site.

    ``scores[site][rule]``: the site's held-out score under ``rule`` (mean
    over draws); ``as_is[site]``: the checkpoint's; ``rules`` simplest
    first. Returns the ``folds`` (held-out ``site``, the ``rule`` chosen
    without it, its ``score``, ``as_is`` and ``gain`` there), the
    ``mean_gain`` and ``mean_score`` over folds, the ``worst`` fold, and
    the ``default``: the rule chosen on all sites.
    """
    sites = sorted(as_is)
    if len(sites) < 2:
        raise ValueError(f'loso: needs two sites or more, got {sites}')
    if AS_IS in rules:
        raise ValueError(f'loso: {AS_IS!r} is always a candidate; do not '
                         'list it among the rules')
    gains = _gains(scores, as_is, rules, sites)
    folds = []
    for held in sites:
        rule = choose_rule(scores, as_is, rules,
                           [s for s in sites if s != held],
                           tolerance)['rule']
        folds.append(dict(site=held, rule=rule, as_is=as_is[held],
                          score=as_is[held] + gains[rule][held],
                          gain=gains[rule][held]))
    return dict(
        folds=folds,
        mean_gain=sum(f['gain'] for f in folds) / len(folds),
        mean_score=sum(f['score'] for f in folds) / len(folds),
        worst=min(folds, key=lambda f: f['gain']),
        default=choose_rule(scores, as_is, rules, sites, tolerance),
        criterion=CRITERION, tolerance=tolerance)
