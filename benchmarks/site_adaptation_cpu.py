"""Site adaptation at CPU scale: what each step of ``tools/adapt.py`` buys
on four crack sets that the DeepCrack-trained models never saw.

    python benchmarks/site_adaptation_cpu.py sources [--only NAME ...]
    python benchmarks/site_adaptation_cpu.py run [--sources ...] \
        [--sites ...] [--arms ...] [--ks ...] [--draws N]
    python benchmarks/site_adaptation_cpu.py report

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
import shutil
import sys
import time

import numpy as np
import torch
from matplotlib.lines import Line2D
from mmengine.config import Config

from crackdino_mm.apis import adapt_to_site, init_crack_model, map_scores
from crackdino_mm.apis.site_calibration import site_probabilities
from crackdino_mm.utils import SCALE_GRID
from harness import commands, plots, records, report
from harness.sites import (DISTILLER, KEPT, SITES, SOURCES, TEACHER_OPTIONS,
                           TEST_IMAGES, UNLABELLED, WORK_DIR, MapCache, draw,
                           keep_source, read_photo, source_checkpoint,
                           test_keys)
from harness.stats import mean_ci, paired_contrast

REPO = records.REPO
RESULTS = records.results_path('site_adaptation_cpu.json')
FIGURE = records.results_path('site_adaptation_cpu.png')
KS = (0, 1, 3, 5, 10)
DRAWS = 5
FINETUNE_ITERS = 100
#: As long in wall time as ``finetune_distill``'s 100 steps (mean 273 s
#: against 76 s for 100 steps of ``finetune``: full method, k = 10).
LONG_FINETUNE_ITERS = 360
CALIBRATION_ARMS = ('none', 'label_free_otsu', 'threshold',
                    'threshold_scale', 'oracle_threshold',
                    'oracle_threshold_scale')
ADAPT_ARMS = ('label_free_norm', 'finetune', 'finetune_distill',
              'finetune_long')
#: Arms that only a source with the teachers runs.
TEACHER_ARMS = ('finetune_distill', 'finetune_long')
ARMS = CALIBRATION_ARMS[:2] + ADAPT_ARMS[:1] + CALIBRATION_ARMS[2:4] + \
    ADAPT_ARMS[1:] + CALIBRATION_ARMS[4:]
LABEL_FREE = ('none', 'label_free_otsu', 'label_free_norm',
              'oracle_threshold', 'oracle_threshold_scale')


def train_command(name, data_root):
    config, options, _ = SOURCES[name]
    work_dir = osp.join(WORK_DIR, name)
    options = ['randomness.seed=0'] + commands.data_root_options(
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
    for name in args.only or SOURCES:
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


# ---------------------------------------------------------- the arms


def otsu_threshold(probs):
    """Otsu's threshold on the pooled crack probabilities (100 bins)."""
    hist = sum(np.histogram(p, bins=100, range=(0, 1))[0] for p in probs)
    centres = (np.arange(100) + 0.5) / 100
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * centres)
    total, total_mean = weight[-1], mean[-1]
    between = (total_mean * weight - mean * total) ** 2 / np.maximum(
        weight * (total - weight), 1e-12)
    return float(np.clip(centres[int(np.argmax(between[:-1]))] + 0.005,
                         0.01, 0.99))


def scores(probs, labels, threshold):
    m = map_scores(probs, labels, threshold)
    return dict(iou=m['crack_iou'], f1=m['crack_f1'], ods=m['ods'],
                ods_threshold=m['ods_threshold'])


def calibration_arms(cache, site, args):
    """Every calibration arm of one source and site, for every k and
    draw, from the cached maps."""
    tests = test_keys(site, args)
    labels = [read_photo(site, 'test', key, args)[1] for key in tests]
    test = {s: [cache.get(site, 'test', key, s)[0] for key in tests]
            for s in SCALE_GRID}
    at = {s: scores(test[s], labels, 0.5) for s in SCALE_GRID}
    out = {}
    oracle_scale = max(SCALE_GRID, key=lambda s: at[s]['ods'])
    for d in range(args.draws):
        out[('none', 0, d)] = dict(at[1.0], threshold=0.5, scale=1.0,
                                   seconds=0.0)
        out[('oracle_threshold', 0, d)] = dict(
            scores(test[1.0], labels, at[1.0]['ods_threshold']),
            threshold=at[1.0]['ods_threshold'], scale=1.0, seconds=0.0)
        out[('oracle_threshold_scale', 0, d)] = dict(
            scores(test[oracle_scale], labels,
                   at[oracle_scale]['ods_threshold']),
            threshold=at[oracle_scale]['ods_threshold'],
            scale=oracle_scale, seconds=0.0)
        _, pool = draw(site, 0, d, args)
        pool_maps = [cache.get(site, 'train', key, 1.0) for key in pool]
        t = otsu_threshold([m for m, _ in pool_maps])
        out[('label_free_otsu', 0, d)] = dict(
            scores(test[1.0], labels, t), threshold=t, scale=1.0,
            seconds=sum(s for _, s in pool_maps))
        for k in args.ks:
            if not k:
                continue
            labelled, _ = draw(site, k, d, args)
            photo_labels = [read_photo(site, 'train', key, args)[1]
                            for key in labelled]
            table = []
            for s in sorted(SCALE_GRID, key=lambda s: abs(np.log(s))):
                maps = [cache.get(site, 'train', key, s) for key in labelled]
                m = map_scores([p for p, _ in maps], photo_labels, 0.5)
                table.append((m['ods'], s, m['ods_threshold'],
                              sum(t for _, t in maps)))
            f1, _, t1, sec1 = next(row for row in table if row[1] == 1.0)
            out[('threshold', k, d)] = dict(
                scores(test[1.0], labels, t1), threshold=t1, scale=1.0,
                seconds=sec1)
            best = max(table, key=lambda row: row[0])
            out[('threshold_scale', k, d)] = dict(
                scores(test[best[1]], labels, best[2]), threshold=best[2],
                scale=best[1], seconds=sum(row[3] for row in table))
    return out


def adapt_arm(cache, arm, site, k, d, args):
    """One run of ``tools/adapt.py``'s API, scored on the test subset."""
    config = SOURCES[cache.source][0]
    root = osp.join(REPO, args.crack_sets_root, site)
    run_dir = osp.join(REPO, WORK_DIR, 'runs', cache.source, site, arm,
                       f'k{k}_d{d}')
    shutil.rmtree(run_dir, ignore_errors=True)
    distiller = None
    if arm == 'finetune_distill':
        distiller = Config.fromfile(osp.join(REPO, DISTILLER))
        distiller.merge_from_dict(dict(
            option.split('=', 1) for option in TEACHER_OPTIONS))
    labelled = dict(images=osp.join(root, 'train_img'),
                    masks=osp.join(root, 'train_lab'), k=k) if k else {}
    tic = time.perf_counter()
    record = adapt_to_site(
        osp.join(REPO, config), source_checkpoint(cache.source),
        osp.join(run_dir, 'adapted.pth'), seed=d,
        unlabelled=osp.join(root, 'train_img')
        if arm in ('label_free_norm', 'finetune_distill') else None,
        finetune_iters=dict(finetune=FINETUNE_ITERS,
                            finetune_distill=FINETUNE_ITERS,
                            finetune_long=LONG_FINETUNE_ITERS).get(arm, 0),
        norm_stats=arm == 'label_free_norm', distiller_config=distiller,
        work_dir=run_dir, **labelled)
    seconds = time.perf_counter() - tic
    model = init_crack_model(osp.join(REPO, config),
                             osp.join(run_dir, 'adapted.pth'))
    threshold = float(model.decode_head.threshold)
    scale = float(model.data_preprocessor.test_scale)
    tests = test_keys(site, args)
    photos = [read_photo(site, 'test', key, args) for key in tests]
    probs = site_probabilities(model, [img for img, _ in photos], scale)
    shutil.rmtree(run_dir, ignore_errors=True)
    return dict(scores(probs, [lab for _, lab in photos], threshold),
                threshold=threshold, scale=scale,
                seconds=round(seconds, 1), labelled=record['labelled'])


def result_key(source, site, arm, k, d):
    return f'{source}/{site}/{arm}/k{k}/d{d}'


def cmd_run(args):
    """Cheap arms first on every site, then the adapting arms k by k,
    draw by draw and site by site, so that a run cut short leaves balanced,
    paired cells."""
    stamp = dict(command=commands.study_command('site_adaptation_cpu.py',
                                                sys.argv[1:]),
                 commit=commands.git_commit())
    for source in args.sources:
        if not osp.isfile(source_checkpoint(source)):
            raise SystemExit(f'{source}: {source_checkpoint(source)} does '
                             'not exist; run "sources" first')
        cache = MapCache(source, args)
        wanted = [a for a in args.arms if a in CALIBRATION_ARMS]
        for site in args.sites:
            done = records.load(RESULTS)
            if wanted and any(
                    result_key(source, site, a, k, d) not in done
                    for a in wanted for d in range(args.draws)
                    for k in (args.ks if a in ('threshold',
                                               'threshold_scale') else (0, ))
                    if k or a not in ('threshold', 'threshold_scale')):
                found = calibration_arms(cache, site, args)
                with records.locked(RESULTS) as results:
                    for (arm, k, d), value in found.items():
                        if arm in wanted:
                            results[result_key(source, site, arm, k,
                                               d)] = dict(value, **stamp)
                print(f'{source} {site}: calibration arms recorded',
                      flush=True)
        adapting = [a for a in args.arms if a in ADAPT_ARMS and (
            a not in TEACHER_ARMS or SOURCES[source][2])]
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
        lines.append(f'\nPaired contrasts ({source}; difference in '
                     f'{metric.upper()} points on the same draws, 95 % CI, '
                     'p of the paired t-test, pooled over the sites):\n')
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
        '### Crack IoU', text,
        '\n### Crack F1 at the adapted decision',
        report_tables(results, 'f1', contrasts=False),
        '\n### ODS at the adapted scale (threshold-free)',
        report_tables(results, 'ods', contrasts=False),
        '\n![IoU against k](results/site_adaptation_cpu.png)'])
    report.write_costs()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('command', choices=('sources', 'run', 'report'))
    parser.add_argument('--only', nargs='+', choices=tuple(SOURCES))
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
