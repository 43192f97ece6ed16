"""Which rule should choose a site's threshold and scale from k labelled
photos? Measured on each site's training split only (the test split of
``site_adaptation_cpu.py`` stays unseen), so the rule can then be tested
there.

    python benchmarks/calibration_levels_cpu.py run [--sources ...] \
        [--draws N] [--threads 1]
    python benchmarks/calibration_levels_cpu.py report

Per source and site, the training split is shuffled once into an
evaluation pool (``EVAL_IMAGES``) and a pool of ``CHOICE_IMAGES`` photos
from which each draw takes its k labelled ones. Rules:

- ``as_is``: the checkpoint's decision (threshold and scale);
- ``threshold``: the threshold of best F pooled over the k photos;
- ``best_f``: the threshold and scale of best pooled F (the rule of
  ``tools/adapt.py`` until this measurement);
- ``cv``: the level (as is / threshold / threshold and scale) with the
  best cross-validated F: each level fitted on all folds but one and
  counted on that one (a fit scored on the photos it was fitted on always
  looks better than it is). The folds are the photos, or the quadrants of
  each photo when there are fewer than three.

Each is scored by crack IoU on the evaluation pool. Decision, fixed
before the run: the tool takes ``cv`` if, pooled over sites and k, it is
not below ``best_f`` by more than 0.5 IoU and its worst (site, k) mean
change against ``as_is`` is above ``best_f``'s; otherwise it keeps
``best_f``. Maps are cached with the site-adaptation benchmark's.
"""
import argparse
import random
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from crackdino_mm.apis import apply_calibration
from crackdino_mm.evaluation import (best_calibration, counts_above,
                                     sweep_thresholds)
from crackdino_mm.utils import SCALE_GRID
from harness import commands, records, report
from harness.sites import SITES, MapCache, read_photo, site_keys
from harness.stats import mean_ci, paired_contrast

#: From the least to the most that is changed; a tie keeps the lesser.
LEVELS = ('as_is', 'threshold', 'threshold_scale')
#: ``CrackMetric``'s threshold sweep.
SWEEP = sweep_thresholds(99)
#: Fewer labelled photos than this are split into quadrants for the folds.
MIN_PHOTO_FOLDS = 3


def sweep_with(threshold: float) -> np.ndarray:
    """The sweep, with ``threshold`` (the decision as it is) added."""
    return np.union1d(SWEEP, [threshold])


def above_counts(prob: np.ndarray, label: np.ndarray,
                 sweep: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """(3, T) counts of one map: crack pixels above each threshold of
    ``sweep``, background pixels above it, and all crack pixels."""
    valid = label != ignore_index
    out = np.zeros((3, len(sweep)), np.int64)
    for row, cls in ((0, 1), (1, 0)):
        out[row] = counts_above(prob[valid & (label == cls)], sweep)
    out[2] = int(np.count_nonzero(valid & (label == 1)))
    return out


def fold_parts(prob: np.ndarray, label: np.ndarray,
               quadrants: bool) -> List[Tuple[np.ndarray, np.ndarray]]:
    """A photo's map and label as one fold, or as its four quadrants."""
    if not quadrants:
        return [(prob, label)]
    h, w = label.shape[0] // 2, label.shape[1] // 2
    return [(prob[r], label[r]) for r in (
        (slice(None, h), slice(None, w)), (slice(None, h), slice(w, None)),
        (slice(h, None), slice(None, w)), (slice(h, None), slice(w, None)))]


def f_measure(counts: np.ndarray) -> np.ndarray:
    """F of summed counts (3, ...) at each threshold (0 when undefined)."""
    tp, fp, crack = counts
    denominator = tp + fp + crack
    return np.where(denominator > 0,
                    2 * tp / np.maximum(denominator, 1), 0.0)


def fit_level(level: str, counts: Dict[float, np.ndarray],
              default: Tuple[float, float],
              sweep: np.ndarray) -> Tuple[int, float]:
    """(threshold index in ``sweep``, scale) of ``level`` fitted on
    ``counts`` ({scale: (folds, 3, T)}, summed over the folds here); a
    tie keeps the scale nearest ``default``'s and the lower threshold."""
    threshold, scale = default
    if level == 'as_is':
        return int(np.searchsorted(sweep, threshold)), scale
    scales = [scale] if level == 'threshold' else list(counts)
    chosen, index = best_calibration(
        {s: f_measure(counts[s].sum(0)) for s in scales}, scale)
    return index, chosen


def cross_validated_f(level: str, counts: Dict[float, np.ndarray],
                      default: Tuple[float, float],
                      sweep: np.ndarray) -> float:
    """F of ``level`` counted on each fold after fitting on the others."""
    folds = len(next(iter(counts.values())))
    total = np.zeros(3, np.int64)
    for held in range(folds):
        rest = {s: np.delete(c, held, axis=0) for s, c in counts.items()}
        index, scale = fit_level(level, rest, default, sweep)
        total += counts[scale][held, :, index]
    return float(f_measure(total))


def choose_level(counts: Dict[float, np.ndarray],
                 default: Tuple[float, float], sweep: np.ndarray,
                 levels: Sequence[str] = LEVELS) -> dict:
    """The level of ``levels`` with the best cross-validated F, refitted
    on every fold: ``level``, ``threshold``, ``scale`` and each level's
    cross-validated F (``cv_f``)."""
    cv_f = {level: cross_validated_f(level, counts, default, sweep)
            for level in levels}
    level = max(levels, key=lambda name: cv_f[name])
    index, scale = fit_level(level, counts, default, sweep)
    return dict(level=level, threshold=float(sweep[index]),
                scale=float(scale), cv_f=cv_f)


RESULTS = records.results_path('calibration_levels_cpu.json')
EVAL_IMAGES = 100
CHOICE_IMAGES = 40
KS = (1, 3, 5, 10)
DRAWS = 40
RULES = ('as_is', 'threshold', 'best_f', 'cv')
SOURCES = ('crackdino', 'student_plain')


def pools(site, args):
    """(evaluation keys, choice keys) of a site's training split."""
    keys = sorted(site_keys(site, 'train', args))
    random.Random(f'{site}/pools').shuffle(keys)
    return keys[:EVAL_IMAGES], keys[EVAL_IMAGES:EVAL_IMAGES + CHOICE_IMAGES]


def photo_counts(cache, site, keys, sweep, quadrants, args):
    """{scale: (folds, 3, T)} above-threshold counts of ``keys``."""
    out = {}
    for scale in SCALE_GRID:
        folds = []
        for key in keys:
            prob = cache.get(site, 'train', key, scale)[0]
            label = read_photo(site, 'train', key, args)[1]
            folds += [above_counts(p, lab, sweep)
                      for p, lab in fold_parts(prob, label, quadrants)]
        out[scale] = np.stack(folds)
    return out


def iou(counts, index, scale):
    tp, fp, crack = counts[scale].sum(0)[:, index]
    return 100.0 * tp / max(crack + fp, 1)


def rule_choice(rule, counts, default, sweep):
    """(threshold index, scale, level) a rule chooses on ``counts``."""
    if rule == 'cv':
        chosen = choose_level(counts, default, sweep)
        return (int(np.searchsorted(sweep, chosen['threshold'])),
                chosen['scale'], chosen['level'])
    level = dict(as_is='as_is', threshold='threshold',
                 best_f='threshold_scale')[rule]
    return (*fit_level(level, counts, default, sweep), level)


def cmd_run(args):
    stamp = dict(command=commands.study_command('calibration_levels_cpu.py',
                                                sys.argv[1:]),
                 commit=commands.git_commit())
    for source in args.sources:
        cache = MapCache(source, args)
        calibration = apply_calibration(cache._model())
        default = (calibration['threshold'], calibration['scale'])
        sweep = sweep_with(default[0])
        for site in args.sites:
            todo = [k for k in KS
                    if f'{source}/{site}/k{k}' not in records.load(RESULTS)]
            if not todo:
                continue
            eval_keys, choice_keys = pools(site, args)
            evaluation = photo_counts(cache, site, eval_keys, sweep, False,
                                      args)
            for k in todo:
                record = {rule: [] for rule in RULES}
                record['cv_level'] = []
                for d in range(args.draws):
                    keys = sorted(random.Random(f'{site}/{k}/{d}').sample(
                        choice_keys, k))
                    counts = photo_counts(cache, site, keys, sweep,
                                          k < MIN_PHOTO_FOLDS, args)
                    for rule in RULES:
                        index, scale, level = rule_choice(
                            rule, counts, default, sweep)
                        record[rule].append(
                            round(iou(evaluation, index, scale), 3))
                        if rule == 'cv':
                            record['cv_level'].append(level)
                records.record(RESULTS, f'{source}/{site}/k{k}', **record,
                               default=list(default), **stamp)
                print(f'{source} {site} k={k}: ' + ', '.join(
                    f'{r} {np.mean(record[r]):.2f}' for r in RULES),
                    flush=True)


def _fmt(c):
    p = '' if c.get('p') is None else f', p = {c["p"]:.3g}'
    return f'{c["mean"]:+.2f} [{c["low"]:+.2f}, {c["high"]:+.2f}]{p}'


def report_lines(results):
    """Markdown tables of every source: each rule against ``as_is``, and
    ``cv`` against ``best_f`` (paired over draws), then the decision."""
    lines = []
    for source in SOURCES:
        cells = {(site, k): results[f'{source}/{site}/k{k}']
                 for site in SITES for k in KS
                 if f'{source}/{site}/k{k}' in results}
        if not cells:
            continue
        lines += [f'**{source}** (IoU on the evaluation pool; change '
                  'against the decision as it is, mean [95 % CI] over '
                  'draws)', '',
                  '| site | k | as is | threshold | best F | cv | '
                  'cv − best F | cv keeps / threshold / scale |',
                  '|---|---|---|---|---|---|---|---|']
        worst = {rule: None for rule in ('best_f', 'cv')}
        for (site, k), rec in cells.items():
            change = {rule: paired_contrast(rec[rule], rec['as_is'])
                      for rule in RULES[1:]}
            for rule in worst:
                if worst[rule] is None or change[rule]['mean'] < worst[
                        rule][0]:
                    worst[rule] = (change[rule]['mean'], site, k)
            levels = [rec['cv_level'].count(level) for level in
                      ('as_is', 'threshold', 'threshold_scale')]
            lines.append(
                f'| {site} | {k} | {mean_ci(rec["as_is"])["mean"]:.2f} | '
                + ' | '.join(f'{change[r]["mean"]:+.2f}'
                             for r in RULES[1:]) +
                f' | {_fmt(paired_contrast(rec["cv"], rec["best_f"]))} | '
                + ' / '.join(map(str, levels)) + ' |')
        draws = min(len(rec['cv']) for rec in cells.values())
        pooled = {rule: [np.mean([rec[rule][d] for rec in cells.values()])
                         for d in range(draws)] for rule in RULES}
        gap = paired_contrast(pooled['cv'], pooled['best_f'])
        adopt = gap['mean'] >= -0.5 and worst['cv'][0] > worst['best_f'][0]
        lines += ['', f'Pooled over {len(cells)} (site, k) cells: cv − '
                  f'best F {_fmt(gap)}; cv − as is '
                  f'{_fmt(paired_contrast(pooled["cv"], pooled["as_is"]))}; '
                  f'best F − as is '
                  f'{_fmt(paired_contrast(pooled["best_f"], pooled["as_is"]))}'
                  f'. Worst (site, k) mean change against as is: best F '
                  f'{worst["best_f"][0]:+.2f} ({worst["best_f"][1]}, k='
                  f'{worst["best_f"][2]}), cv {worst["cv"][0]:+.2f} '
                  f'({worst["cv"][1]}, k={worst["cv"][2]}). Decision rule: '
                  f'{"cv" if adopt else "best F"}.', '']
    return lines


def cmd_report(args):
    results = records.load(RESULTS)
    lines = report_lines(results)
    print('\n'.join(lines))
    runs = sorted({(r['command'], r['commit']) for r in results.values()})
    setup = report.template('calibration_levels_cpu', draws=DRAWS,
                            eval_images=EVAL_IMAGES,
                            choice_images=CHOICE_IMAGES)
    report.write_section(records.REPORT, 'calibration_levels_cpu', [
        setup, '', *lines, 'Recorded by:', '', *report.command_block(
            (f'commit {commit}', command) for command, commit in runs)])
    report.write_costs()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('command', choices=('run', 'report'))
    parser.add_argument('--sources', nargs='+', choices=SOURCES,
                        default=list(SOURCES))
    parser.add_argument('--sites', nargs='+', choices=SITES,
                        default=list(SITES))
    parser.add_argument('--draws', type=int, default=DRAWS)
    parser.add_argument('--crack-sets-root', default='data/crack_sets')
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.command == 'run':
        torch.set_num_threads(args.threads)
        cmd_run(args)
    else:
        cmd_report(args)


if __name__ == '__main__':
    main()
