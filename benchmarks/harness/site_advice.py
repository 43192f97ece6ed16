"""The adaptation default per k, chosen leave-one-site-out from the
site-adaptation records, and what it gives at a site it was not chosen on.

Candidate rules per k: the checkpoint as is; the threshold of best F on
the k photos at scale 1, or the threshold and scale of best F where the
scale gains a scale margin s over the threshold alone (else the threshold
alone; ``tools/adapt.py --scale-min-gain s``), each with a margin m that
the photos' F of the choice must beat the stored calibration's
(threshold 0.5, scale 1) by, else the stored one stays (``--min-gain
m``), on the tool's threshold grid or a coarser one; and fine-tuning
where it was measured. A margin rule is scored from the cached maps'
records: per draw, the IoU of the arm its photos' F selects.
"""
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence

from crackdino_mm.apis.calibration_default import (AS_IS, INF,
                                                   CalibrationRule)
from harness.loso import CRITERION, leave_one_site_out
from harness.site_stats import across_sites

#: Margins (F points on the k photos) the calibration rules try.
MARGINS = (0, 2, 5, 10, 20)
#: Scale margins (F points the scale must add to the threshold alone)
#: the threshold-and-scale rules try.
SCALE_MARGINS = (0, 2, 5, 10, 20)
#: Threshold grids (thresholds evenly spaced in (0, 1)): the tool's 99
#: (steps of 0.01), then 19 (0.05), recorded as ``grid19``.
GRIDS = (99, 19)
KS = (0, 1, 3, 5, 10)
#: The candidates in words, for the report.
CANDIDATES = (
    'Candidates at k >= 1: the checkpoint as is; the threshold (scale 1), '
    'or the threshold and scale, of best F on the k photos, the scale '
    'changed only if it adds ' + ', '.join(f'{m:g}' for m in SCALE_MARGINS)
    + " F points to the threshold alone, each with a margin of "
    + ', '.join(f'{m:g}' for m in MARGINS) + ' F points that '
    "the photos' F must gain over the stored calibration (else it stays), "
    'on a threshold grid of 0.01 (the tool\'s) or 0.05; calibrate and '
    'fine-tune (100 steps) where measured. At k = 0: as is, norm '
    "statistics, Otsu's threshold.")
#: The loss (IoU points) a safe rule may show at a site: one that rounds to
#: 0.0 at the README's precision (0.1) is no loss.
TOLERANCE = 0.05
#: The label-free candidates at k = 0.
LABEL_FREE_ARMS = ('label_free_norm', 'label_free_otsu')


class Rule(NamedTuple):
    """One candidate: its ``arm`` of the records, margin, grid and (for
    ``threshold_scale``) scale margin."""
    arm: str
    margin: Optional[float] = None
    grid: int = 99
    scale_margin: float = 0.0

    @property
    def name(self):
        text = {'threshold': 'threshold', 'threshold_scale':
                'threshold and scale', 'finetune': 'calibrate and '
                'fine-tune', 'label_free_norm': 'norm statistics',
                'label_free_otsu': 'Otsu threshold'}.get(self.arm, self.arm)
        if self.arm == 'threshold_scale' and self.scale_margin:
            text += f' (scale margin {self.scale_margin:g})'
        if self.margin is not None:
            text += f', margin {self.margin:g}'
        return text + ('' if self.grid == 99 else
                       f', grid {1 / (self.grid + 1):.2f}')

    @property
    def needs_threshold_arm(self):
        """Whether scoring it reads the threshold arm's draws too."""
        return self.arm == 'threshold_scale' and self.scale_margin > 0


def candidate_rules(finetune: bool = False, k: int = 1) -> List[Rule]:
    """The rules at one k, simplest first (``loso`` keeps the first of
    equal gains): threshold before threshold and scale, large scale
    margins and margins (which change least) before small, the tool's
    grid first; at k = 0 the label-free steps."""
    if not k:
        return [Rule(arm) for arm in LABEL_FREE_ARMS]
    arms = [('threshold', 0.0)] + [
        ('threshold_scale', s) for s in sorted(SCALE_MARGINS, reverse=True)]
    rules = [Rule(arm, margin, grid, scale_margin) for arm, scale_margin
             in arms for margin in sorted(MARGINS, reverse=True)
             for grid in GRIDS]
    return rules + ([Rule('finetune')] if finetune else [])


def package_rule(rule: Optional[Rule]) -> Optional[CalibrationRule]:
    """A chosen rule as ``tools/adapt.py`` states it: as is for None, None
    for a rule with no calibration default (fine-tuning, label-free)."""
    if rule is None:
        return AS_IS
    if rule.margin is None:
        return None
    return CalibrationRule(rule.margin, INF if rule.arm == 'threshold'
                           else rule.scale_margin, rule.grid)


def study_rule(rule: CalibrationRule) -> Rule:
    """``tools/adapt.py``'s rule as a candidate scored from the records."""
    if rule.scale_min_gain == INF:
        return Rule('threshold', rule.min_gain, rule.num_thresholds)
    return Rule('threshold_scale', rule.min_gain, rule.num_thresholds,
                rule.scale_min_gain)


def draw_value(rule: Rule, record: Mapping, as_is: Mapping,
               threshold_record: Optional[Mapping] = None) -> float:
    """A rule's test IoU at one draw: the threshold and scale's, or the
    threshold alone's (``threshold_record``, the same photos) where the
    scale adds less than the scale margin to its photos' F; that, if the
    photos' F gain over the stored calibration clears the margin, else
    the checkpoint's."""
    if rule.margin is None:
        return record['iou']
    chosen = _on_grid(record, rule.grid)
    if rule.needs_threshold_arm:
        alone = _on_grid(threshold_record, rule.grid)
        if chosen['photos_f_chosen'] - alone['photos_f_chosen'] < \
                rule.scale_margin:
            chosen = alone
    gain = chosen['photos_f_chosen'] - record['photos_f_stored']
    return chosen['iou'] if gain >= rule.margin else as_is['iou']


def _on_grid(record, grid):
    return record if grid == 99 else record[f'grid{grid}']


def _cell(results, source, site, arm, k):
    prefix = f'{source}/{site}/{arm}/k{k}/d'
    return {int(key[len(prefix):]): value for key, value in results.items()
            if key.startswith(prefix)}


def site_scores(results: Mapping[str, dict], source: str, k: int,
                sites, rules: List[Rule]) -> dict:
    """Each site's mean over its draws of every rule and of as is
    (``scores``, ``as_is``), the mean ``seconds`` of each rule's arm, and
    the ``sites`` that have every rule (a margin rule needs draws whose
    records hold the photos' F)."""
    scores, as_is, seconds, complete = {}, {}, {}, []
    for site in sites:
        none = _cell(results, source, site, 'none', 0)
        if not none:
            continue
        values, ok = {}, True
        alone = _cell(results, source, site, 'threshold', k)
        for rule in rules:
            cell = _cell(results, source, site, rule.arm, k)
            draws = [d for d, v in cell.items() if rule.margin is None or
                     'photos_f_stored' in v]
            if rule.needs_threshold_arm:
                draws = [d for d in draws if 'photos_f_stored' in
                         alone.get(d, {})]
            if not draws:
                ok = False
                break
            values[rule.name] = sum(draw_value(
                rule, cell[d], none.get(d, none[min(none)]), alone.get(d))
                for d in draws) / len(draws)
            seconds.setdefault(rule.name, []).extend(
                cell[d].get('seconds', 0.0) for d in draws)
        if ok:
            scores[site] = values
            as_is[site] = sum(v['iou'] for v in none.values()) / len(none)
            complete.append(site)
    return dict(scores=scores, as_is=as_is, sites=complete, seconds={
        name: sum(s) / len(s) for name, s in seconds.items()})


def advice(results: Mapping[str, dict], sources: Sequence[str], sites,
           ks=KS, tolerance: float = TOLERANCE) -> Dict[int, dict]:
    """Per k with three sites or more: ``leave_one_site_out`` over the
    cases (a source at a site, ``source@site``) that have every candidate
    (the ``candidates``: fine-tuning or norm statistics among them unless
    that leaves fewer cases), one rule for every source, with the held-out
    sites' gains: mean over sites, 95 % CI and prediction interval for a
    new site (``expected``); the default as a ``Rule`` (``default_rule``)
    and its seconds."""
    out = {}
    for k in ks:
        # The candidate set measured on the most cases; on a tie the one
        # with fine-tuning (k > 0) or norm statistics (k = 0).
        sets = [candidate_rules(True, k), candidate_rules(False, k)] if k \
            else [candidate_rules(k=0), candidate_rules(k=0)[1:]]
        found, rules = max(
            ((_cases(results, sources, k, sites, rules), rules)
             for rules in sets), key=lambda pair: len(pair[0]['as_is']))
        if len({site_of(case) for case in found['as_is']}) >= 3:
            out[k] = _loso(found, rules, tolerance)
    return out


def finetune_advice(results: Mapping[str, dict], sources: Sequence[str],
                    sites, ks=(1, 3, 5, 10),
                    tolerance: float = TOLERANCE) -> Dict[int, dict]:
    """Per k, ``leave_one_site_out`` among the calibration rules and
    fine-tuning, over the cases where fine-tuning was measured: from
    which k fine-tuning is the step to take."""
    out = {}
    for k in ks:
        rules = candidate_rules(True, k)
        found = _cases(results, sources, k, sites, rules)
        if len({site_of(case) for case in found['as_is']}) >= 3:
            out[k] = _loso(found, rules, tolerance)
    return out


def _loso(found, rules, tolerance) -> dict:
    """``leave_one_site_out`` over ``found``'s cases, with the expected
    change at a new site, the default as a ``Rule`` and its seconds."""
    loso = leave_one_site_out(found['scores'], found['as_is'],
                              [rule.name for rule in rules], tolerance,
                              site_of)
    default = loso['default']['rule']
    return dict(loso, sites=sorted({site_of(c) for c in found['as_is']}),
                cases=sorted(found['as_is']),
                expected=across_sites(
                    {f['site']: f['gain'] for f in loso['folds']}),
                seconds=found['seconds'].get(default, 0.0),
                default_rule=next((r for r in rules if r.name == default),
                                  None),
                candidates=[rule.name for rule in rules])


def site_of(case: str) -> str:
    """The site of a case ``source@site``."""
    return case.split('@', 1)[1]


def _cases(results, sources, k, sites, rules) -> dict:
    """``site_scores`` of every source, keyed by case ``source@site``."""
    scores, as_is, seconds = {}, {}, {}
    for source in sources:
        found = site_scores(results, source, k, sites, rules)
        for site in found['sites']:
            scores[f'{source}@{site}'] = found['scores'][site]
            as_is[f'{source}@{site}'] = found['as_is'][site]
        for name, value in found['seconds'].items():
            seconds.setdefault(name, []).append(value)
    return dict(scores=scores, as_is=as_is, seconds={
        name: sum(v) / len(v) for name, v in seconds.items()})


def advice_lines(per_k: Mapping[int, dict]) -> List[str]:
    """A Markdown table of ``advice``: per k the default chosen on all
    sites, the change in IoU it brought at each held-out site (mean over
    sites, 95 % prediction interval for a new site), the worst held-out
    site and the worst source model at one, and its seconds."""
    lines = ['| k | default (chosen on all sites) | change at a held-out '
             'site: mean [95 % PI, new site] | worst held-out site | worst '
             'source at a held-out site | rules chosen without a site | '
             'sites | s |', '|---|---|---|---|---|---|---|---|']
    for k, found in sorted(per_k.items()):
        e, worst, case = found['expected'], found['worst'], \
            found['worst_case']
        pi = '' if e['pi_low'] is None else \
            f' [{e["pi_low"]:+.1f}, {e["pi_high"]:+.1f}]'
        chosen = sorted({f['rule'] for f in found['folds']})
        lines.append(
            f'| {k} | {found["default"]["rule"]} | {e["mean"]:+.1f}{pi} | '
            f'{worst["site"]} {worst["gain"]:+.1f} | '
            f'{case["case"].replace("@", " at ")} {case["gain"]:+.1f} | '
            f'{"; ".join(chosen)} | {len(found["sites"])} | '
            f'{found["seconds"]:.0f} |')
    return lines


def fold_lines(per_k: Mapping[int, dict]) -> List[str]:
    """Each held-out site's rule and change in IoU, by k."""
    sites = sorted({f['site'] for found in per_k.values()
                    for f in found['folds']})
    lines = ['| k | ' + ' | '.join(sites) + ' |',
             '|---' * (len(sites) + 1) + '|']
    for k, found in sorted(per_k.items()):
        folds = {f['site']: f for f in found['folds']}
        lines.append(f'| {k} | ' + ' | '.join(
            f'{folds[s]["gain"]:+.1f} ({folds[s]["rule"]})'
            if s in folds else '' for s in sites) + ' |')
    return lines

