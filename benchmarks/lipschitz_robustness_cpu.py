"""Does the spectrally normalised ("Lipschitz") head make the CPU-scale
student harder to attack than the plain head? (one seed each)

    python benchmarks/lipschitz_robustness_cpu.py run [--threads 1]
    python benchmarks/lipschitz_robustness_cpu.py report

``run`` is ``train`` then ``attack`` (each also a stage of its own).

The plain student is the site-adaptation benchmark's kept ``student_plain``
source (seed 0, DeepCrack's 270 training images). ``train`` trains its
Lipschitz partner with the same command but the Lipschitz config (the two
configs differ only in the head). ``attack`` runs ``tools/robustness.py``
on both, FGSM and PGD at the same budgets on the same first
``IMAGES`` DeepCrack test images, at one decision threshold (0.5). The
gradient penalty of the Lipschitz config (one-sided, bound 0.8) is zero in
every recorded run, so this measures spectral normalisation. ``report``
gives, per attack, each model's crack IoU and the Lipschitz - plain
difference in IoU and in its drop from the clean IoU, with 95 % intervals
and p-values by a paired bootstrap over the images (one training seed: the
interval covers the test images, not training noise). Results are in
``benchmarks/results/lipschitz_robustness_cpu.json`` (command, commit,
seconds), skipped when recorded.
"""
import argparse
import json
import os
import os.path as osp

from harness import blocks, commands, records, report
from harness.stats import paired_bootstrap

REPO = records.REPO
RESULTS = records.results_path('lipschitz_robustness_cpu.json')
WORK_DIR = 'work_dirs/lipschitz_robustness'
CPU = 'configs/cpu_benchmark/'
#: name: (config, trained weights)
MODELS = {
    'student_plain': (
        CPU + 'crackdino-student-plainhead_vit-w192d12_1k_deepcrack-'
        '224x224.py',
        'benchmarks/results/site_adaptation_weights/student_plain.pth'),
    'student_lipschitz': (
        CPU + 'crackdino-student-lipschitz_vit-w192d12_1k_deepcrack-'
        '224x224.py', WORK_DIR + '/student_lipschitz/iter_1000.pth'),
}
TRAINED = 'student_lipschitz'
EPS = (2, 4, 8)
STEPS = 5
IMAGES = 40
THRESHOLD = 0.5
RESAMPLES = 10000


def train_command(args):
    work_dir = osp.join(WORK_DIR, TRAINED)
    options = ['randomness.seed=0'] + commands.data_root_options(
        records.relative(args.data_root)) + [
        'model.backbone.init_cfg.checkpoint=benchmarks/results/'
        'crack_transfer_weights/teacher_base.pth',
        'default_hooks.checkpoint.interval=100']
    return commands.train_command(MODELS[TRAINED][0], work_dir, options,
                                  commands.resume_flag(work_dir))


def attack_command(name, args):
    config, weights = MODELS[name]
    return commands.tool_command(
        'robustness', config, weights, '--eps', *EPS, '--attack', 'both',
        '--steps', STEPS, '--limit', IMAGES, '--threshold', THRESHOLD,
        '--out', osp.join(WORK_DIR, name, 'robustness.json'),
        options=commands.data_root_options(records.relative(args.data_root),
                                           ('test_dataloader', )))


def cmd_train(args):
    if f'train/{TRAINED}' not in records.load(RESULTS):
        records.record(RESULTS, f'train/{TRAINED}',
                       **commands.run_tool(TRAINED, train_command(args)))


def cmd_attack(args):
    for name in MODELS:
        if f'attack/{name}' in records.load(RESULTS):
            continue
        if not osp.isfile(osp.join(REPO, MODELS[name][1])):
            raise SystemExit(f'{MODELS[name][1]} is missing: run train '
                             '(or the site-adaptation sources) first')
        run = commands.run_tool(name, attack_command(name, args))
        with open(osp.join(REPO, WORK_DIR, name, 'robustness.json')) as f:
            measured = json.load(f)
        run.update(results=measured['results'],
                   image_counts=measured['image_counts'])
        records.record(RESULTS, f'attack/{name}', **run)


def cmd_run(args):
    cmd_train(args)
    cmd_attack(args)


def iou(images, indices):
    tp, fp, fn = (sum(images[i][key] for i in indices)
                  for key in ('tp', 'fp', 'fn'))
    return 100 * tp / max(tp + fp + fn, 1)


def contrasts(plain, lipschitz, resamples=RESAMPLES):
    """Per attack: both models' IoU, the Lipschitz - plain IoU difference
    and the difference of their drops from clean, by paired bootstrap
    over the images."""
    for counts in (plain, lipschitz):
        names = {run: [i['image'] for i in c] for run, c in counts.items()}
        if names != {run: names['clean'] for run in counts}:
            raise ValueError('the attacks did not score the same images')
    if [i['image'] for i in plain['clean']] != \
            [i['image'] for i in lipschitz['clean']]:
        raise ValueError('the two models were not attacked on the same '
                         'images')
    n = len(plain['clean'])
    rows = {}
    for run in plain:
        def gap(idx, run=run):
            return iou(lipschitz[run], idx) - iou(plain[run], idx)

        def drop_gap(idx, run=run):
            return gap(idx) - (iou(lipschitz['clean'], idx) -
                               iou(plain['clean'], idx))

        rows[run] = dict(
            plain=iou(plain[run], range(n)),
            lipschitz=iou(lipschitz[run], range(n)),
            difference=paired_bootstrap(gap, n, resamples),
            drop_difference=None if run == 'clean' else paired_bootstrap(
                drop_gap, n, resamples))
    return rows


def _interval(c):
    if c is None:
        return ''
    # A bootstrap p-value of 0 means: below its resolution, 2 / resamples.
    p = f'p < {2 / RESAMPLES:g}' if c['p'] == 0 else f'p = {c["p"]:.2g}'
    return f'{c["mean"]:+.2f} [{c["low"]:+.2f}, {c["high"]:+.2f}], {p}'


def report_lines(results):
    lines = [__doc__.split('\n\n')[0].replace('\n', ' '), '',
             'Commands:', '']
    lines += report.command_block(
        (f'{key} (commit {run["commit"]}, {run["wall_seconds"]} s)',
         run['command']) for key, run in sorted(results.items()))
    if not all(f'attack/{name}' in results for name in MODELS):
        return lines + ['', 'Not run yet.']
    plain = results['attack/student_plain']
    lipschitz = results['attack/student_lipschitz']
    rows = contrasts(plain['image_counts'], lipschitz['image_counts'])
    lines += ['', f'Crack IoU (%) on the first {IMAGES} DeepCrack test '
              f'images at threshold {THRESHOLD}; epsilons in 0-255 pixel '
              f'units, PGD with {STEPS} steps; ODS from the same runs. '
              'Intervals: paired bootstrap over the images (10,000 '
              'resamples).', '',
              '| attack | plain IoU | Lipschitz IoU | Lipschitz - plain '
              '[95 % CI], p | drop from clean, Lipschitz - plain [95 % CI],'
              ' p | plain ODS | Lipschitz ODS |', '|---|---|---|---|---|---|'
              '---|']
    for run, row in rows.items():
        lines.append(
            f'| {run} | {row["plain"]:.2f} | {row["lipschitz"]:.2f} | '
            f'{_interval(row["difference"])} | '
            f'{_interval(row["drop_difference"])} | '
            f'{plain["results"][run]["ods"]:.2f} | '
            f'{lipschitz["results"][run]["ods"]:.2f} |')
    return lines


@blocks.register('lipschitz-robustness', 'docs/results.md')
def robustness_block():
    """Crack IoU of both heads under each attack and their difference
    (paired bootstrap over the images)."""
    results = records.load(RESULTS)
    rows = contrasts(results['attack/student_plain']['image_counts'],
                     results['attack/student_lipschitz']['image_counts'])
    lines = ['| attack | plain head IoU | Lipschitz head IoU | Lipschitz − '
             'plain [95 % CI], p |', '|---|---|---|---|']
    lines += [f'| {run} | {row["plain"]:.1f} | {row["lipschitz"]:.1f} | '
              f'{_interval(row["difference"])} |'
              for run, row in rows.items()]
    return '\n'.join(lines)


def cmd_report(args):
    lines = report_lines(records.load(RESULTS))
    print('\n'.join(lines))
    report.write_section(records.REPORT, 'lipschitz_robustness_cpu',
                         ['## Robustness of the Lipschitz head (CPU scale)',
                          ''] + lines)
    report.write_costs()
    blocks.write('lipschitz-robustness')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('command',
                        choices=('run', 'train', 'attack', 'report'))
    parser.add_argument('--data-root', default=records.default_data_root())
    parser.add_argument('--threads', type=int)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        os.environ['OMP_NUM_THREADS'] = str(args.threads)
    dict(run=cmd_run, train=cmd_train, attack=cmd_attack,
         report=cmd_report)[args.command](args)


if __name__ == '__main__':
    main()
