"""Statistics with the site as the unit: each site's mean over its source
seeds and draws, then the mean over sites with its 95 % confidence
interval (t, df = sites - 1), the two-sided p-value of no difference, the
95 % prediction interval for a new site, and Holm's step-down adjustment
over a family of contrasts. Draws of one site share a test set and a
model, so they measure within-site noise only; the sites are the
independent units.

    python benchmarks/harness/site_stats.py [RESULTS_JSON]

prints the site-level table of the site-adaptation benchmark's headline
contrasts (``HEADLINE``), Holm-adjusted over them.
"""
import json
import math
import os.path as osp
import sys
from typing import Dict, Mapping, Optional, Sequence, Tuple

from scipy import stats

RESULTS = osp.join('benchmarks', 'results', 'site_adaptation_cpu.json')
#: The study's sites (``harness.sites.SITES``, which needs the model
#: stack; this module reads JSON only).
SITES = ('Crack500', 'GAPs384', 'ShadowCrack', 'AigleRN-TRIMM',
         'SUT-Crack', 'PaveSeg', 'UAV-Crack', 'CeramicTiles')

#: One arm of the site-adaptation benchmark: (source, arm, k).
Arm = Tuple[str, str, int]

#: The contrasts the README reads, as (name, arm a, arm b): a - b.
HEADLINE = (
    ('norm statistics vs as is (full method)',
     ('crackdino', 'label_free_norm', 0), ('crackdino', 'none', 0)),
    ('calibration k=1 vs as is (full method)',
     ('crackdino', 'threshold_scale', 1), ('crackdino', 'none', 0)),
    ('fine-tuning vs calibration, k=5 (full method)',
     ('crackdino', 'finetune', 5), ('crackdino', 'threshold_scale', 5)),
    ('fine-tuning vs calibration, k=10 (full method)',
     ('crackdino', 'finetune', 10), ('crackdino', 'threshold_scale', 10)),
    ('teachers vs fine-tuning, k=10 (full method)',
     ('crackdino', 'finetune_distill', 10), ('crackdino', 'finetune', 10)),
    ('SegFormer vs full method, fine-tuned, k=10',
     ('segformer', 'finetune', 10), ('crackdino', 'finetune', 10)),
    ('full method vs student alone as a start, fine-tuned, k=10',
     ('crackdino', 'finetune', 10), ('student_plain', 'finetune', 10)),
    ('fine-tuning on 10 vs 5 photos (full method)',
     ('crackdino', 'finetune', 10), ('crackdino', 'finetune', 5)),
    ('full method vs student alone as a start, fine-tuned, k=1',
     ('crackdino', 'finetune', 1), ('student_plain', 'finetune', 1)),
)


def seed_of(draw_key) -> int:
    """The training seed of an ``arm_draws`` key: ``(seed, draw)``, or a
    draw number alone for seed 0."""
    return draw_key[0] if isinstance(draw_key, tuple) else 0


def site_means(draws: Mapping[str, Mapping[object, Optional[float]]]
               ) -> Dict[str, float]:
    """Each site's mean over the training seeds it has of each seed's mean
    over its draws (a draw missing or None is left out), so that a seed
    with more draws does not weigh more; a draw keyed ``(seed, draw)`` is
    of that seed, one keyed by its number alone of seed 0. A site with no
    draw at all is left out."""
    means = {}
    for site, values in draws.items():
        by_seed = {}
        for key, value in values.items():
            if value is not None:
                by_seed.setdefault(seed_of(key), []).append(value)
        if by_seed:
            means[site] = sum(sum(v) / len(v) for v in by_seed.values()) \
                / len(by_seed)
    return means


def across_sites(means: Mapping[str, float]) -> dict:
    """The mean over sites of per-site values, its 95 % CI (t, df = n -
    1), the one-sample t-test's two-sided p (mean 0) and the 95 %
    prediction interval for a new site, mean +- t * sd * sqrt(1 + 1/n).

    One site has no spread: the interval and p are None and ``note`` says
    so. Sites that all agree (sd 0) get intervals of width 0 and p 0 (1 if
    the mean is 0), with a note.
    """
    values = list(means.values())
    n = len(values)
    if not n:
        raise ValueError('across_sites: no site has a value')
    mean = sum(values) / n
    out = dict(n=n, mean=mean, sd=None, low=None, high=None, p=None,
               pi_low=None, pi_high=None, note='', sites=dict(means))
    if n < 2:
        out['note'] = ('one site: no confidence interval, p or prediction '
                       'interval (they need two sites or more)')
        return out
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = stats.t.ppf(0.975, n - 1)
    half, pi_half = t * sd / math.sqrt(n), t * sd * math.sqrt(1 + 1 / n)
    if sd == 0:
        p = 1.0 if mean == 0 else 0.0
        out['note'] = 'every site has the same value: zero variance'
    else:
        p = float(2 * stats.t.sf(abs(mean / (sd / math.sqrt(n))), n - 1))
    out.update(sd=sd, low=mean - half, high=mean + half, p=p,
               pi_low=mean - pi_half, pi_high=mean + pi_half)
    return out


def site_contrast(a: Mapping[str, Mapping[int, Optional[float]]],
                  b: Mapping[str, Mapping[int, Optional[float]]]) -> dict:
    """``across_sites`` of each site's mean difference a - b over the draws
    both have (paired within the site). Sites without a shared draw are
    left out and named in ``missing``."""
    diffs, missing = {}, []
    for site in sorted(set(a) | set(b)):
        ca, cb = a.get(site, {}), b.get(site, {})
        shared = {d: ca[d] - cb[d] for d in ca
                  if d in cb and ca[d] is not None and cb[d] is not None}
        if shared:
            diffs[site] = shared
        else:
            missing.append(site)
    if not diffs:
        raise ValueError('site_contrast: no site has a draw in both arms')
    return dict(across_sites(site_means(diffs)), missing=missing,
                draws={site: len(d) for site, d in diffs.items()})


def holm(pvalues: Mapping[str, float]) -> Dict[str, float]:
    """Holm's step-down adjusted p-values of a family: the i-th smallest
    (from 1) times (m - i + 1), kept monotone, at most 1."""
    for name, p in pvalues.items():
        if p is None or not 0 <= p <= 1:
            raise ValueError(f'holm: contrast {name!r} has p={p!r}; expected '
                             'a p-value in [0, 1]')
    order = sorted(pvalues, key=pvalues.get)
    m, running, adjusted = len(order), 0.0, {}
    for i, name in enumerate(order):
        running = max(running, min(1.0, (m - i) * pvalues[name]))
        adjusted[name] = running
    return adjusted


def arm_draws(results: Mapping[str, dict], arm: Arm,
              metric: str = 'iou') -> Dict[str, Dict[object, float]]:
    """{site: {draw: value}} of one arm of the site-adaptation results,
    keyed ``source/site/arm/k{k}/d{draw}``; a source trained with other
    seeds (``source@sS``) adds its draws as ``(S, draw)``, so that a
    site's mean runs over seeds and draws and sources compare over seeds
    and sites."""
    source, name, k = arm
    out: Dict[str, Dict[object, float]] = {}
    for key, value in results.items():
        parts = key.split('/')
        if len(parts) != 5 or parts[2] != name or parts[3] != f'k{k}' \
                or not parts[4].startswith('d'):
            continue
        base, _, seed = parts[0].partition('@s')
        if base == source and (not seed or seed.isdigit()):
            draw = int(parts[4][1:])
            out.setdefault(parts[1], {})[
                (int(seed), draw) if seed else draw] = value[metric]
    return out


def reanalyse(results: Mapping[str, dict],
              contrasts: Sequence[Tuple[str, Arm, Arm]] = HEADLINE,
              metric: str = 'iou', skip_missing: bool = False) -> list:
    """Each contrast at site level (``site_contrast``), with its p
    Holm-adjusted over ``contrasts`` (``p_holm``). A contrast without
    results is an error, or with ``skip_missing`` left out (the family
    is then the contrasts measured)."""
    rows = []
    for name, a, b in contrasts:
        ca, cb = arm_draws(results, a, metric), arm_draws(results, b, metric)
        if not ca or not cb:
            if skip_missing:
                continue
            raise KeyError(f'{name}: no result for {a if not ca else b}')
        rows.append(dict(site_contrast(ca, cb), name=name))
    tested = {row['name']: row['p'] for row in rows if row['p'] is not None}
    adjusted = holm(tested) if tested else {}
    for row in rows:
        row['p_holm'] = adjusted.get(row['name'])
    return rows


def _num(value, fmt='+.1f'):
    return '-' if value is None else format(value, fmt)


def table(rows, sites: Sequence[str] = SITES) -> str:
    """A markdown table of ``reanalyse``'s rows (a site without a value
    shows -; ``n`` counts the sites of the row)."""
    lines = ['| contrast | ' + ' | '.join(sites) + ' | n | mean [95 % CI] | '
             'p | p (Holm) | 95 % PI, new site |',
             '|---' * (len(sites) + 6) + '|']
    for row in rows:
        cells = [_num(row['sites'].get(site)) for site in sites]
        lines.append(
            f'| {row["name"]} | ' + ' | '.join(cells) +
            f' | {row["n"]} | {_num(row["mean"])} [{_num(row["low"])}, '
            f'{_num(row["high"])}] | {_num(row["p"], ".3f")} | '
            f'{_num(row["p_holm"], ".3f")} | [{_num(row["pi_low"])}, '
            f'{_num(row["pi_high"])}] |')
    return '\n'.join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else RESULTS
    with open(path) as f:
        results = json.load(f)
    print(table(reanalyse(results)))


if __name__ == '__main__':
    main()
