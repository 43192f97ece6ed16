"""Site adaptation at CPU scale: what each step of ``tools/adapt.py`` buys
on eight crack sets that the DeepCrack-trained models never saw.

    python benchmarks/site_adaptation_cpu.py sources [--only NAME ...] \
        [--seed S]
    python benchmarks/site_adaptation_cpu.py run [--sources ...] \
        [--seeds S ...] [--sites ...] [--arms ...] [--ks ...] [--draws N]
    python benchmarks/site_adaptation_cpu.py report

``sources --seed S`` trains a source with training seed S, kept as its own
weights file and recorded as ``NAME@sS`` (seed 0 keeps the bare ``NAME``
of the first records); ``run --seeds`` adapts the sources of those seeds.

``sources`` trains the DeepCrack source models (270 training images; the
CPU-scale student alone, the full method, SegFormer MiT-B0). ``run``
adapts each to each site with k = 0, 1, 3, 5, 10 labelled photos drawn
from the site's training split (``draw`` d is ``tools/adapt.py --k K
--seed d``) and scores on a fixed subset of its test split (300 images,
seed 0, or all). Arms:

- ``none``: the checkpoint as it is (threshold 0.5, scale 1);
- ``label_free_norm``: BatchNorm statistics re-estimated on 64 unlabelled
  training photos of the site (``--unlabelled``);
- ``label_free_otsu``: the threshold that Otsu's rule puts on the crack
  probabilities of those 64 photos (no label);
- ``threshold``: the threshold of best F pooled over the k photos;
- ``threshold_scale``: that and the test-time scale (``tools/adapt.py``);
- ``finetune``: then ``FINETUNE_ITERS`` steps on the k photos;
- ``finetune_distill``: the same steps with the dual-teacher distillation
  on the site's unlabelled training folder (the recorded runs read all of
  it, 152 to 5,270 crops by site; students only);
- ``finetune_long``: fine-tuning alone for ``LONG_FINETUNE_ITERS`` steps,
  as long as the distillation takes: the teachers' control for time
  (students only);
- ``oracle_threshold`` / ``oracle_threshold_scale``: the test subset's own
  best threshold (ODS) at scale 1 / at the best scale: the ceiling of
  calibration.

The calibration arms read cached probability maps (every test and drawn
photo at every scale, once per source), so they cost nothing more; their
wall time is the prediction time of the k photos at the scales they try.
Each trained source's student weights are kept in
``benchmarks/results/site_adaptation_weights/`` (a distiller's teachers are
the crack-transfer benchmark's kept ones), so that every sitting adapts
the same models. Every result is recorded in
``benchmarks/results/site_adaptation_cpu.json``
as it finishes (command, commit, seconds) and skipped when recorded, so
``run`` resumes where it stopped. Two sittings may run at once, one core
each, on different ``--ks`` or ``--sites``: records are merged under a
lock.
"""
import argparse
import datetime
import glob
import os.path as osp
import re
import sys

import numpy as np
import torch
from matplotlib.lines import Line2D

from harness import (blocks, commands, plots, records, report,
                     site_advice, site_stats)
from harness import front_page  # noqa: F401  registers the README's blocks
from harness.site_arms import (ADAPT_ARMS, ARMS, CALIBRATION_ARMS,
                               FINETUNE_ITERS, LABEL_FREE,
                               LONG_FINETUNE_ITERS, TEACHER_ARMS, adapt_arm,
                               calibration_arms)
from harness.sites import (KEPT, SITES, SOURCES, TEST_IMAGES, UNLABELLED,
                           WORK_DIR, MapCache, keep_source, source_checkpoint,
                           source_name, source_parts)
from harness.stats import mean_ci, paired_contrast

REPO = records.REPO
RESULTS = records.results_path('site_adaptation_cpu.json')
FIGURE = records.results_path('site_adaptation_cpu.png')
KS = (0, 1, 3, 5, 10)
#: Draws per site and k of new records (the first four sites' recorded
#: records have 5): they measure within-site noise only, the sites and
#: the source seeds are the units.
DRAWS = 3
#: Fields a threshold arm's record needs for the margin rules.
MARGIN_FIELDS = ('photos_f_stored', 'photos_f_chosen')


def train_command(name, data_root):
    source, seed = source_parts(name)
    config, options, _ = SOURCES[source]
    work_dir = osp.join(WORK_DIR, name)
    options = [f'randomness.seed={seed}'] + commands.data_root_options(
        records.relative(data_root)) + options + [
            'default_hooks.checkpoint.interval=100']
    return commands.train_command(config, work_dir, options,
                                  commands.resume_flag(work_dir))


def log_wall_seconds(work_dir):
    """First to last timestamp of a training's mmengine log."""
    stamps = []
    for log in glob.glob(osp.join(work_dir, '*', '*.log')):
        with open(log) as f:
            stamps += re.findall(
                r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d|\d\d/\d\d \d\d:\d\d:\d\d)'
                r' - mmengine', f.read(), re.M)
    if not stamps:
        return None
    times = [datetime.datetime.strptime(
        s[5:] if len(s) > 14 else s, '%m/%d %H:%M:%S') for s in stamps]
    return (max(times) - min(times)).total_seconds()


def cmd_sources(args):
    for name in (source_name(n, args.seed) for n in args.only or SOURCES):
        key = f'source/{name}'
        if key in records.load(RESULTS):
            if not osp.isfile(osp.join(KEPT, name + '.pth')):
                keep_source(name)
            continue
        cmd = train_command(name, args.data_root)
        if osp.isfile(source_checkpoint(name)):
            # Trained by this command in an earlier sitting: its log
            # holds the time.
            run = dict(command=' '.join(c for c in cmd if c != '--resume'),
                       commit=commands.git_commit(),
                       wall_seconds=log_wall_seconds(
                           osp.join(REPO, WORK_DIR, name)),
                       note='recorded from its training log')
        else:
            run = commands.run_tool(name, cmd)
        keep_source(name)
        records.record(RESULTS, key, **run)


def result_key(source, site, arm, k, d):
    return f'{source}/{site}/{arm}/k{k}/d{d}'


def calibration_missing(source, site, wanted, args):
    """Whether a wanted calibration cell of the draws asked for is not
    recorded, or a threshold arm's lacks the photos' F of the margin
    rules (records made before they were kept)."""
    done = records.load(RESULTS)
    for arm in wanted:
        thresholds = arm in ('threshold', 'threshold_scale')
        for k in (k for k in args.ks if k) if thresholds else (0, ):
            for d in range(args.draws):
                value = done.get(result_key(source, site, arm, k, d))
                if value is None or (thresholds and not all(
                        f in value for f in MARGIN_FIELDS)):
                    return True
    return False


def cmd_run(args):
    """Cheap arms first on every site, then the adapting arms k by k,
    draw by draw and site by site, so that a run cut short leaves balanced,
    paired cells."""
    stamp = dict(command=commands.study_command('site_adaptation_cpu.py',
                                                sys.argv[1:]),
                 commit=commands.git_commit())
    for source in (source_name(n, seed) for seed in args.seeds
                   for n in args.sources):
        if not osp.isfile(source_checkpoint(source)):
            raise SystemExit(f'{source}: {source_checkpoint(source)} does '
                             'not exist; run "sources" first')
        cache = MapCache(source, args)
        wanted = [a for a in args.arms if a in CALIBRATION_ARMS]
        for site in args.sites:
            if wanted and calibration_missing(source, site, wanted, args):
                found = calibration_arms(cache, site, args)
                with records.locked(RESULTS) as results:
                    for (arm, k, d), value in found.items():
                        if arm in wanted:
                            results[result_key(source, site, arm, k,
                                               d)] = dict(value, **stamp)
                print(f'{source} {site}: calibration arms recorded',
                      flush=True)
        adapting = [a for a in args.arms if a in ADAPT_ARMS and (
            a not in TEACHER_ARMS or SOURCES[source_parts(source)[0]][2])]
        cells = [('label_free_norm', 0, d, site)
                 for d in range(args.draws) for site in args.sites
                 if 'label_free_norm' in adapting]
        # The arms of one draw and site run one after the other, so that a
        # run cut short leaves paired cells.
        cells += [(arm, k, d, site) for k in args.ks if k
                  for d in range(args.draws) for site in args.sites
                  for arm in adapting if arm != 'label_free_norm']
        for arm, k, d, site in cells:
            key = result_key(source, site, arm, k, d)
            if key in records.load(RESULTS):
                continue
            value = adapt_arm(cache, arm, site, k, d, args)
            records.record(RESULTS, key, **value, **stamp)
            print(f'{key}: IoU {value["iou"]:.2f} '
                  f'({value["seconds"]:.0f} s)', flush=True)


# ------------------------------------------------------------- report


def collect(results, source, site, arm, k):
    """{draw: record} of one cell."""
    prefix = f'{source}/{site}/{arm}/k{k}/d'
    return {int(key[len(prefix):]): value for key, value in results.items()
            if key.startswith(prefix)}


def _fmt(summary):
    if summary['low'] is None:
        return f'{summary["mean"]:.1f}'
    return (f'{summary["mean"]:.1f} [{summary["low"]:.1f}, '
            f'{summary["high"]:.1f}]')


def arm_k(arm, k):
    """The k at which an arm is recorded (label-free arms at k=0)."""
    return 0 if arm in LABEL_FREE else k


CONTRASTS = (
    ('threshold', 'none', 'a threshold from k photos vs none'),
    ('threshold_scale', 'threshold', 'adding the test-time scale'),
    ('label_free_norm', 'none', 'norm statistics (no label) vs none'),
    ('label_free_otsu', 'none', 'Otsu threshold (no label) vs none'),
    ('finetune', 'threshold_scale', 'fine-tuning vs calibration alone'),
    ('finetune_distill', 'finetune', 'distillation on unlabelled photos '
     'vs fine-tuning alone'),
    ('finetune_distill', 'finetune_long', 'distillation vs fine-tuning '
     'alone as long'),
)


def site_mean_table(results, source, metric='iou'):
    """Each arm's mean over the four sites' means, by k: the one line a user
    reads to choose a step. A cell some site lacks is left empty, and one
    with fewer than all draws says how many (site, draw) cells it holds."""
    lines = ['| arm | ' + ' | '.join(f'k={k}' for k in KS) + ' |',
             '|---' * (len(KS) + 1) + '|']
    for arm in ARMS:
        cells = []
        for k in KS:
            found = [collect(results, source, site, arm, k)
                     if (k == 0) == (arm in LABEL_FREE) else {}
                     for site in SITES]
            if not all(found):
                cells.append('')
                continue
            value = np.mean([np.mean([v[metric] for v in cell.values()])
                             for cell in found])
            count = sum(len(cell) for cell in found)
            cells.append(f'{value:.1f}' + (
                '' if count == DRAWS * len(SITES) else f' ({count})'))
        if any(cells):
            lines.append(f'| {arm} | ' + ' | '.join(cells) + ' |')
    return lines


def site_table(results, source, metric):
    """One table of every site's arms (the site named on its first row):
    mean [95 % CI] over draws by k, and the seconds an adaptation took."""
    lines = ['| site | arm | ' + ' | '.join(f'k={k}' for k in KS) + ' | s |',
             '|---' * (len(KS) + 3) + '|']
    for site in SITES:
        named = site
        for arm in ARMS:
            cells = []
            for k in KS:
                cell = collect(results, source, site, arm, k) if \
                    (k == 0) == (arm in LABEL_FREE) else {}
                values = [v[metric] for v in cell.values()]
                cells.append(_fmt(mean_ci(values)) if values else '')
            timed = collect(results, source, site, arm, arm_k(arm, 5))
            seconds = f'{np.mean([v["seconds"] for v in timed.values()]):.0f}' \
                if timed else ''
            if any(cells):
                lines.append(f'| {named} | {arm} | ' + ' | '.join(cells) +
                             f' | {seconds} |')
                named = ''
    return lines


def report_tables(results, metric='iou', contrasts=True):
    lines = []
    for source in SOURCES:
        if not any(key.startswith(source + '/') for key in results):
            continue
        lines.append(f'\n#### {source}: crack {metric.upper()}, mean of the '
                     'four sites\' means (cells with fewer than all draws '
                     'give their count)\n')
        lines += site_mean_table(results, source, metric)
        lines.append(f'\n#### {source}: crack {metric.upper()} on each '
                     'site\'s test subset (mean [95 % CI] over draws; '
                     's: seconds of adaptation at k=0 or 5)\n')
        lines += site_table(results, source, metric)
        if not contrasts:
            continue
        lines.append(f'\nPaired contrasts, within-site detail ({source}; '
                     f'difference in {metric.upper()} points on the same '
                     'draws, 95 % CI, p of the paired t-test, pooled over '
                     'the sites: draws of a site share its test set and '
                     'model, so these are not tests over sites):\n')
        lines.append('| contrast | k | difference [95 % CI] | p | pairs |')
        lines.append('|---|---|---|---|---|')
        for a, b, what in CONTRASTS:
            for k in KS:
                pairs = []
                for site in SITES:
                    ca = collect(results, source, site, a, arm_k(a, k))
                    cb = collect(results, source, site, b, arm_k(b, k))
                    pairs += [(ca[d][metric], cb[d][metric])
                              for d in sorted(set(ca) & set(cb))]
                if len(pairs) < 2 or (k == 0 and a not in LABEL_FREE) or \
                        (k and a in LABEL_FREE):
                    continue
                c = paired_contrast([p[0] for p in pairs],
                                    [p[1] for p in pairs])
                lines.append(f'| {what} | {k} | {c["mean"]:+.2f} '
                             f'[{c["low"]:+.2f}, {c["high"]:+.2f}] | '
                             f'{c["p"]:.3g} | {c["n"]} |')
    return '\n'.join(lines)


def plot(results):
    """Mean IoU against k, one panel per source and site; each arm has one
    colour in every panel and the one legend names every arm."""
    sources = [s for s in SOURCES
               if any(key.startswith(s + '/') for key in results)]
    fig, axes = plots.panels(len(sources), len(SITES))
    colours = plots.series_colours(ARMS)
    for row, source in enumerate(sources):
        for col, site in enumerate(SITES):
            ax = axes[row][col]
            for arm in ARMS:
                xs, ys = [], []
                for k in KS:
                    if k and arm in LABEL_FREE and arm != 'none':
                        continue
                    cell = collect(results, source, site, arm, arm_k(arm, k))
                    if cell:
                        xs.append(k)
                        ys.append(np.mean([v['iou'] for v in cell.values()]))
                if xs:
                    ax.plot(xs, ys, arm_style(arm), marker='o',
                            color=colours[arm])
            ax.set_title(f'{source}: {site}', fontsize=9)
            ax.set_xlabel('labelled site photos k')
            ax.set_ylabel('crack IoU')
    handles = [Line2D([], [], linestyle=arm_style(arm), marker='o',
                      color=colours[arm], label=arm) for arm in ARMS]
    plots.save_with_legend(fig, handles, FIGURE)


def arm_style(arm):
    """Dashed for an arm that needs no label, solid for the others."""
    return '--' if arm in LABEL_FREE else '-'


def site_level_lines(results):
    """The contrasts the README reads with the site as the unit (each
    site's mean over its seeds and draws), Holm over those measured."""
    rows = site_stats.reanalyse(results, skip_missing=True)
    return site_stats.table(rows, SITES).split('\n')


def advice_lines(results):
    """The leave-one-site-out default per k, one rule for every source
    (training seed 0), and each held-out site's change."""
    per_k = site_advice.advice(results, list(SOURCES), SITES)
    if not per_k:
        return []
    return ['\n#### The default per k, chosen without each site in turn\n',
            *site_advice.advice_lines(per_k),
            '\nChange in crack IoU at each held-out site (mean over the '
            'source models measured there; the rule chosen on the other '
            'sites):\n', *site_advice.fold_lines(per_k),
            *finetune_lines(results)]


def finetune_lines(results):
    """Fine-tuning among the candidates, where it was measured: the
    fewest photos from which it is the step to take."""
    per_k = site_advice.finetune_advice(results, list(SOURCES), SITES)
    if not per_k:
        return []
    return ['\n#### Fine-tuning or calibration, chosen without each site in '
            'turn (the sources and sites where fine-tuning was measured)\n',
            *site_advice.advice_lines(per_k)]


#: The README's optional steps: (k, the arm that records it, the step).
OPTIONAL_STEPS = (
    (0, 'label_free_norm', '`--unlabelled DIR`: norm statistics'),
    (5, 'finetune', f'`--finetune-iters {FINETUNE_ITERS}`: fine-tune '
     f'{FINETUNE_ITERS} steps'),
    (10, 'finetune', f'fine-tune {FINETUNE_ITERS} steps'),
    (10, 'finetune_distill', '`--unlabelled DIR` with the distiller\'s '
     'config: the teachers distil on site photos while it fine-tunes'),
)
#: The sources the optional steps' table reads: the ready model and the
#: full method.
NEW_SITE_SOURCES = (('segformer', 'SegFormer MiT-B0 (ready model)'),
                    ('crackdino', "full method's student"))


def rule_words(rule):
    """A default rule as the tool applies it."""
    if rule is None:
        return "keep the checkpoint's threshold and scale"
    if rule.arm == 'finetune':
        return (f'the threshold and scale of best F on the photos, then '
                f'{FINETUNE_ITERS} fine-tuning steps on them and the '
                'threshold again')
    grid = '' if rule.grid == 99 else f' (steps of {1 / (rule.grid + 1):.2f})'
    if rule.arm == 'threshold':
        what = f'threshold{grid} of best F on the photos'
    elif rule.needs_threshold_arm:
        what = (f'threshold{grid} of best F on the photos, with the scale '
                f'where it adds {rule.scale_margin:g} points to that')
    else:
        what = f'threshold{grid} and scale of best F on the photos'
    return f'the {what}, if their F gains {rule.margin:g} points or more'


def seconds_words(seconds):
    return f'{seconds:.0f} s' if seconds >= 1 else '< 1 s'


def default_table(per_k):
    """Per k >= 1: the tool's default and what it changed at each site
    held out from its choice."""
    lines = ['| labelled photos | `tools/adapt.py` by default | change at a '
             'held-out site: mean [95 % PI, new site] | worst held-out site '
             '| sites | time |', '|---|---|---|---|---|---|']
    for k, found in sorted(per_k.items()):
        if not k:
            continue
        e, worst = found['expected'], found['worst']
        pi = '' if e['pi_low'] is None else \
            f' [{e["pi_low"]:+.1f}, {e["pi_high"]:+.1f}]'
        lines.append(
            f'| {k} | {rule_words(found["default_rule"])} | '
            f'{e["mean"]:+.1f}{pi} | {worst["gain"]:+.1f} ({worst["site"]}) '
            f'| {len(found["sites"])} | {seconds_words(found["seconds"])} |')
    return lines


def site_change(results, source, arm, k):
    """The arm's change in crack IoU against the checkpoint as is, with
    the site as the unit (``site_stats.site_contrast``), or None when
    either is unmeasured."""
    a = site_stats.arm_draws(results, (source, arm, k))
    b = site_stats.arm_draws(results, (source, 'none', 0))
    return site_stats.site_contrast(a, b) if a and b else None


def change_cell(change):
    """Mean change [95 % PI, new site], the worst site, and the count of
    sites it rests on."""
    if change is None:
        return 'not measured'
    worst = min(change['sites'], key=change['sites'].get)
    pi = '' if change['pi_low'] is None else \
        f' [PI {change["pi_low"]:+.1f}, {change["pi_high"]:+.1f}]'
    return (f'{change["mean"]:+.1f}{pi}, worst {change["sites"][worst]:+.1f}'
            f' ({worst}), {change["n"]} sites')


def arm_seconds(results, source, arm, k):
    """Mean recorded seconds of one arm over its sites, seeds and draws."""
    values = [v for draws in site_stats.arm_draws(
        results, (source, arm, k), 'seconds').values()
        for v in draws.values()]
    return f'{np.mean(values):.0f} s' if values else '-'


def new_site_table(results):
    """The README's new-site tables: the tool's default per k, chosen
    leave-one-site-out, and the optional steps' change per source."""
    names = [name for _, name in NEW_SITE_SOURCES]
    per_k = site_advice.advice(results, list(SOURCES), SITES)
    lines = default_table(per_k)
    lines += ['', '| labelled photos | optional step | ' + ' | '.join(names) +
              ' | time, ' + ' / '.join(names) + ' |',
              '|---' * (len(names) + 3) + '|']
    for k, arm, step in OPTIONAL_STEPS:
        if k in per_k and per_k[k]['default_rule'] == site_advice.Rule(arm):
            step += ' (the default, above)'
        cells = ['no teachers' if arm in TEACHER_ARMS and not
                 SOURCES[source][2] else
                 change_cell(site_change(results, source, arm, k))
                 for source, _ in NEW_SITE_SOURCES]
        times = ' / '.join(arm_seconds(results, source, arm, k)
                           for source, _ in NEW_SITE_SOURCES)
        lines.append(f'| {k} | {step} | ' + ' | '.join(cells) +
                     f' | {times} |')
    return '\n'.join(lines)


def coverage_table(results):
    """What the record measures: per arm, the sites each source has at
    each training seed, and the sites no source has (the ks that measure
    the same share a row), so that the docs say it from the record as the
    study grows."""
    found = {}
    for key in results:
        parts = key.split('/')
        if len(parts) == 5:
            source, _, seed = parts[0].partition('@s')
            found.setdefault((parts[2], int(parts[3][1:])), {}).setdefault(
                (source, int(seed or 0)), set()).add(parts[1])
    seeds = sorted({seed for cell in found.values() for _, seed in cell})
    lines = ['| arm | k | ' + ' | '.join(SOURCES) +
             ' | sites not measured |', '|---' * (len(SOURCES) + 3) + '|']
    rows = {}
    for arm in ARMS:
        for k in KS:
            cell = found.get((arm, k))
            if not cell:
                continue
            counts = tuple(' / '.join(str(len(cell.get((source, seed), ())))
                                      for seed in seeds)
                           for source in SOURCES)
            missing = ', '.join(site for site in SITES if not any(
                site in sites for sites in cell.values())) or 'none'
            rows.setdefault((arm, counts, missing), []).append(str(k))
    for (arm, counts, missing), ks in rows.items():
        lines.append(f'| {arm} | {", ".join(ks)} | ' + ' | '.join(counts) +
                     f' | {missing} |')
    return '\n'.join(lines), seeds


@blocks.register('site-adaptation-coverage', 'docs/results.md')
def docs_coverage():
    """The docs' table of what the site study has measured."""
    table, seeds = coverage_table(records.load(RESULTS))
    return ('Sites measured by each source at its training seeds ' +
            ' / '.join(map(str, seeds)) + ' (of ' + str(len(SITES)) +
            '; a site counts once it has a draw):\n\n' + table)


@blocks.register('readme-new-site', 'README.md')
def readme_new_site():
    """The README's new-site table from the committed record."""
    return new_site_table(records.load(RESULTS))


def cmd_report(args):
    results = records.load(RESULTS)
    text = report_tables(results)
    print(text)
    if results:
        plot(results)
        print(f'figure: {FIGURE}')
    sources = report.command_block(
        (f'{name} (commit {run["commit"]}, {run.get("wall_seconds")} s)',
         run['command'])
        for name, run in sorted(results.items())
        if name.startswith('source/'))
    setup = report.template(
        'site_adaptation_cpu', draws=DRAWS, test_images=TEST_IMAGES,
        unlabelled=UNLABELLED, finetune_iters=FINETUNE_ITERS,
        long_finetune_iters=LONG_FINETUNE_ITERS)
    report.write_section(records.REPORT, 'site_adaptation_cpu', [
        setup, '', 'Sources:', '', *sources, '',
        '### Site level: the site as the unit',
        'Each contrast the README reads: per-site means (over seeds and '
        'draws), the mean over sites with its 95 % CI (t, df = sites - 1), '
        'p, p Holm-adjusted over the contrasts measured, and the 95 % '
        'prediction interval for a new site.', '',
        *site_level_lines(results),
        '\n### The adaptation default per k, leave-one-site-out',
        site_advice.CANDIDATES + ' Criterion: ' + site_advice.CRITERION +
        '.',
        *advice_lines(results),
        '\n### Crack IoU (within-site detail: draws pooled)', text,
        '\n### Crack F1 at the adapted decision',
        report_tables(results, 'f1', contrasts=False),
        '\n### ODS at the adapted scale (threshold-free)',
        report_tables(results, 'ods', contrasts=False),
        '\n![IoU against k](results/site_adaptation_cpu.png)'])
    blocks.write('readme-new-site', 'site-adaptation-coverage',
                 'readme-at-a-glance')
    report.write_costs()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('command', choices=('sources', 'run', 'report'))
    parser.add_argument('--only', nargs='+', choices=tuple(SOURCES))
    parser.add_argument('--seed', type=int, default=0,
                        help='sources: the training seed')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0],
                        help='run: the training seeds of the sources')
    parser.add_argument('--sources', nargs='+', choices=tuple(SOURCES),
                        default=list(SOURCES))
    parser.add_argument('--sites', nargs='+', choices=SITES,
                        default=list(SITES))
    parser.add_argument('--arms', nargs='+', choices=ARMS,
                        default=list(ARMS))
    parser.add_argument('--ks', nargs='+', type=int, default=list(KS))
    parser.add_argument('--draws', type=int, default=DRAWS)
    parser.add_argument('--data-root', default=records.default_data_root())
    parser.add_argument('--crack-sets-root', default='data/crack_sets')
    parser.add_argument('--threads', type=int)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dict(sources=cmd_sources, run=cmd_run, report=cmd_report)[args.command](
        args)


if __name__ == '__main__':
    main()
