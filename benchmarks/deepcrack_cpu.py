"""CPU-scale DeepCrack benchmark: every entry trained with the same budget.

Small variants of the project's configs (``configs/cpu_benchmark/``) are
trained from the official 300 training images and evaluated on the 237 test
images, one training at a time (two at once would share the two cores).
Stage 1 trains the two teachers; the students start from the "base"
teacher's backbone and the distillers learn from both teachers.

    python benchmarks/deepcrack_cpu.py run [--only NAME ...]  # (or train)
    python benchmarks/deepcrack_cpu.py measure     # speed and memory
    python benchmarks/deepcrack_cpu.py figure      # test predictions PNG
    python benchmarks/deepcrack_cpu.py report      # benchmarks/RESULTS.md

The run stage (formerly ``train``, still accepted) runs ``tools/train.py`` and then evaluates the final
checkpoint with ``tools/test.py``; both are recorded in
``benchmarks/results/deepcrack_cpu.json`` (exact commands, wall time, peak
memory, step time, test metrics). Recorded trainings and evaluations are
skipped, so the runs can be spread over several sittings.
"""
import argparse
import datetime
import multiprocessing
import os
import os.path as osp
import resource
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from crackdino_mm.datasets.transforms import binarize_crack_mask
from crackdino_mm.inspection.visualization import overlay_mask
from harness import blocks, commands, records, report
from harness import front_page  # noqa: F401  registers the README's blocks
from harness.models import build_deployable, predict, synthetic_batch

REPO = records.REPO
CONFIG_DIR = 'configs/cpu_benchmark'
RESULTS = records.results_path('deepcrack_cpu.json')
FIGURE = records.results_path('deepcrack_cpu_predictions.png')
REPORT = records.REPORT
# Landscape test images at the 10/50/70/90 % quantiles of crack share
# (1.4, 3.5, 4.9 and 10.1 % of the pixels): thin to wide cracks.
FIGURE_IMAGES = ('11294', '11296-22', '11266-3', '11215-13')
SCHEDULE = '1k'
MAX_ITERS = 1000


def _config(name):
    return f'{CONFIG_DIR}/{name}_{SCHEDULE}_deepcrack-224x224.py'


# name -> (config, what it is, which stage-1 teachers it needs)
ENTRIES = {
    'teacher_base': (_config('teacher-b_vit-w192d12'),
                     'stage 1: "base" teacher, ViT-192/12, from scratch', ()),
    'teacher_large': (_config('teacher-l_vit-w192d24'),
                      'stage 1: "large" teacher, ViT-192/24, from scratch',
                      ()),
    'student_plain': (_config('crackdino-student-plainhead_vit-w192d12'),
                      'student only, plain decoder', ('teacher_base', )),
    'student_lipschitz': (_config('crackdino-student-lipschitz_vit-w192d12'),
                          'student only + Lipschitz head',
                          ('teacher_base', )),
    'distill_plain': (_config('crackdino-distill-plainhead_vit-w192d12'),
                      'dual teachers + CAFM, plain decoder',
                      ('teacher_base', 'teacher_large')),
    'crackdino': (_config('crackdino_vit-w192d12'),
                  'full method: dual teachers + CAFM + Lipschitz head',
                  ('teacher_base', 'teacher_large')),
    'unet': (_config('fcn_unet-s5-d16-w16'),
             'MMSeg UNet (width 16) + FCN head, from scratch', ()),
    'deeplabv3plus': (_config('deeplabv3plus_r18-d8'),
                      'MMSeg DeepLabV3+ R-18-d8, from scratch', ()),
    'segformer': (_config('segformer_mit-b0'),
                  'MMSeg SegFormer MiT-B0, from scratch', ()),
    'upernet_vit': (_config('upernet_vit-w192d12'),
                    'ViT-192/12 (from the base teacher) + MMSeg UPerHead',
                    ('teacher_base', )),
}


def teacher_checkpoint(work_dir, teacher):
    """Final checkpoint of an entry (a teacher's is the distillers')."""
    return osp.join(work_dir, teacher, f'iter_{MAX_ITERS}.pth')


def train_command(name, data_root, work_dir):
    """The tools/train.py command line of one entry."""
    config, _, teachers = ENTRIES[name]
    options = commands.data_root_options(data_root)
    if teachers:
        options.append('model.backbone.init_cfg.checkpoint=' +
                       teacher_checkpoint(work_dir, 'teacher_base'))
    if 'teacher_large' in teachers:
        for teacher in ('teacher_large', 'teacher_base'):
            options.append(f'model.teachers.{teacher}.backbone.init_cfg.'
                           f'checkpoint={teacher_checkpoint(work_dir, teacher)}')
    return commands.train_command(config, osp.join(work_dir, name), options)


def test_command(name, data_root, work_dir):
    """The tools/test.py command line evaluating an entry's final
    checkpoint on the test split."""
    return commands.test_command(
        ENTRIES[name][0], teacher_checkpoint(work_dir, name),
        osp.join(work_dir, name, 'test'),
        commands.data_root_options(data_root, ('test_dataloader', )))


def run_training(name, args):
    run = commands.run_tool(name, train_command(
        name, records.relative(args.data_root), args.work_dir))
    return dict(
        config=ENTRIES[name][0],
        description=ENTRIES[name][1],
        command=run['command'],
        train_wall_seconds=run['wall_seconds'],
        train_peak_rss_mib=run['peak_rss_mib'],
        commit=run['commit'],
        date=run['date'],
        **commands.read_scalars(osp.join(REPO, args.work_dir, name)))


def run_test(name, args):
    run = commands.run_tool(name, test_command(
        name, records.relative(args.data_root), args.work_dir))
    return dict(run, metrics=commands.read_test_metrics(
        osp.join(REPO, args.work_dir, name, 'test')))


def cmd_train(args):
    names = args.only or list(ENTRIES)
    unknown = sorted(set(names) - set(ENTRIES))
    if unknown:
        raise SystemExit(f'unknown entries {unknown}; known: {list(ENTRIES)}')
    for name in names:
        recorded = records.load(RESULTS).get(name, {})
        trained = 'train' in recorded and not args.force
        if trained and 'test' in recorded:
            print(f'{name}: recorded already (use --force to rerun)')
            continue
        if not trained:
            missing = [
                t for t in ENTRIES[name][2]
                if not osp.isfile(
                    osp.join(REPO, teacher_checkpoint(args.work_dir, t)))
            ]
            if missing:
                raise SystemExit(f'{name} needs the stage-1 teachers '
                                 f'{missing} trained first')
            records.record(RESULTS, name, train=run_training(name, args))
        if not osp.isfile(
                osp.join(REPO, teacher_checkpoint(args.work_dir, name))):
            raise SystemExit(f'{name} is recorded as trained but its '
                             'checkpoint is not in --work-dir; rerun it with '
                             '--force')
        test = run_test(name, args)
        records.record(RESULTS, name, test=test)
        metrics = test['metrics']
        print(f'{name}: crack IoU {metrics["crack_iou"]:.2f}, F1 '
              f'{metrics["crack_f1"]:.2f}', flush=True)


def checkpoint_of(name, work_dir):
    path = osp.join(REPO, work_dir, name, f'iter_{MAX_ITERS}.pth')
    return path if osp.isfile(path) else None


def build_trained(name, work_dir):
    """The deployable model of an entry (a distiller's student alone),
    with its trained weights loaded with strict keys."""
    return build_deployable(osp.join(REPO, ENTRIES[name][0]),
                            checkpoint_of(name, work_dir))


def measure_one(name, work_dir, threads, queue):
    """Inference images/s at 448x448 (the deployable model, predicting as
    in the evaluation: nine 224x224 windows) and training s/step (batch 8,
    224x224, the config's optimiser), in a process of its own so that its
    peak RSS is this entry's alone."""
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)

    model = build_trained(name, work_dir)
    img = rng.integers(0, 256, (448, 448, 3), np.uint8)
    for _ in range(2):
        predict(model, img)
    runs = 10
    tic = time.perf_counter()
    for _ in range(runs):
        predict(model, img)
    images_per_second = runs / (time.perf_counter() - tic)
    inference_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    cfg = Config.fromfile(osp.join(REPO, ENTRIES[name][0]))
    train_model = MODELS.build(cfg.model)
    train_model.init_weights()
    train_model.train()
    wrapper = build_optim_wrapper(train_model, cfg.optim_wrapper)
    batch = synthetic_batch(8, 224, rng)
    # A multiple of 4 steps: the Lipschitz penalty runs every 4th step.
    warmup, steps = 2, 8
    for _ in range(warmup):
        train_model.train_step(batch, wrapper)
    tic = time.perf_counter()
    for _ in range(steps):
        train_model.train_step(batch, wrapper)
    queue.put(dict(
        threads=threads,
        inference_images_per_second_448=round(images_per_second, 3),
        inference_peak_rss_mib=round(inference_rss / 1024),
        train_step_seconds_b8_224=round(
            (time.perf_counter() - tic) / steps, 3)))


def cmd_measure(args):
    """Speed of every trained entry, one process each, in one run."""
    names = [n for n in (args.only or ENTRIES)
             if checkpoint_of(n, args.work_dir)]
    context = multiprocessing.get_context('spawn')
    for name in names:
        queue = context.Queue()
        proc = context.Process(target=measure_one,
                               args=(name, args.work_dir, args.threads,
                                     queue))
        proc.start()
        figures = queue.get()
        proc.join()
        records.record(RESULTS, name, speed=dict(
            figures, command='python benchmarks/deepcrack_cpu.py measure',
            date=datetime.date.today().isoformat()))
        print(f'{name}: {figures}', flush=True)


def caption(panel, text):
    bar = np.full((24, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, panel], axis=0)


def cmd_figure(args):
    """Test images | ground truth | each trained entry's prediction."""
    names = [n for n in ENTRIES if checkpoint_of(n, args.work_dir)]
    if not names:
        raise SystemExit('no trained entry: run the train stage first')
    models = {name: build_trained(name, args.work_dir) for name in names}
    rows = []
    for image_name in FIGURE_IMAGES:
        path = osp.join(REPO, args.data_root, 'test_img',
                        image_name + '.jpg')
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'cannot read test image {path}')
        mask_path = osp.join(REPO, args.data_root, 'test_lab',
                             image_name + '.png')
        gt = binarize_crack_mask(
            cv2.imread(mask_path, cv2.IMREAD_UNCHANGED), mask_path)
        panels = [caption(img, image_name),
                  caption(overlay_mask(img, gt), 'ground truth')]
        panels += [caption(overlay_mask(img, predict(models[n], img)), n)
                   for n in names]
        rows.append(np.concatenate(panels, axis=1))
    grid = np.concatenate(rows, axis=0)
    grid = cv2.resize(grid, None, fx=0.5, fy=0.5,
                      interpolation=cv2.INTER_AREA)
    os.makedirs(osp.dirname(FIGURE), exist_ok=True)
    cv2.imwrite(FIGURE, grid, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f'wrote {FIGURE}')


ABLATION = ('student_plain', 'student_lipschitz', 'distill_plain',
            'crackdino')


@blocks.register('deepcrack-accuracy', 'docs/results.md')
def accuracy_table(results=None):
    """Every entry's DeepCrack test figures (%), one row each."""
    results = records.load(RESULTS) if results is None else results
    lines = [
        '| entry | what | ' + ' | '.join(n for _, n in report.ACCURACY_COLUMNS) +
        ' |', '|---|---|' + '---|' * len(report.ACCURACY_COLUMNS)
    ]
    for name, (_, description, _) in ENTRIES.items():
        test = results.get(name, {}).get('test')
        if test is None:
            lines.append(f'| {name} | {description} | not run yet |' +
                         ' |' * (len(report.ACCURACY_COLUMNS) - 1))
            continue
        metrics = test['metrics']
        lines.append(f'| {name} | {description} | ' + ' | '.join(
            report.cell(metrics.get(key)) for key, _ in report.ACCURACY_COLUMNS) + ' |')
    return '\n'.join(lines)


def cmd_report(args):
    """Write benchmarks/RESULTS.md and the docs' blocks from the recorded
    results."""
    results = records.load(RESULTS)
    lines = [
        report.template('deepcrack_cpu'), '',
'### Accuracy on the 237 test images (%)', '', accuracy_table(results)
    ]

    done = [n for n in ABLATION if 'test' in results.get(n, {})]
    if len(done) > 1:
        base = results[done[0]]['test']['metrics']
        lines += ['', f'### Ablation: change against `{done[0]}`', '',
                  '| entry | crack IoU | F1 | ODS |', '|---|---|---|---|']
        for name in done[1:]:
            metrics = results[name]['test']['metrics']
            lines.append(f'| {name} | ' + ' | '.join(
                f'{metrics[k] - base[k]:+.2f}'
                for k in ('crack_iou', 'crack_f1', 'ods')) + ' |')

    lines += [
        '', '### Cost', '',
        '| entry | training wall (s) | training step in that run (s) | '
        'training peak RSS (MiB) | measured step, batch 8, 224 (s) | '
        'inference at 448x448 (images/s) | inference peak RSS (MiB) |',
        '|---|---|---|---|---|---|---|'
    ]
    for name in ENTRIES:
        train = results.get(name, {}).get('train', {})
        speed = results.get(name, {}).get('speed', {})
        if not train:
            continue
        lines.append(' | '.join([
            f'| {name}', report.cell(train.get('train_wall_seconds'), 0),
            report.cell(train.get('step_seconds')),
            report.cell(train.get('train_peak_rss_mib'), 0),
            report.cell(speed.get('train_step_seconds_b8_224')),
            report.cell(speed.get('inference_images_per_second_448')),
            report.cell(speed.get('inference_peak_rss_mib'), 0)
        ]) + ' |')
    lines += ['', 'Inference predicts a 448x448 image as the evaluation '
              'does (nine 224x224 windows, stride 160). Distillers are '
              'measured at inference as the deployable student alone '
              '(teachers removed, as `tools/export_student.py` writes it).',
              '', '### Commands', '']
    lines += report.command_block(
        (f'{name} {stage} (commit {run["commit"]}, {run["date"]})',
         run['command'])
        for name in ENTRIES for stage in ('train', 'test')
        for run in [results.get(name, {}).get(stage)] if run)
    if osp.isfile(FIGURE):
        lines += ['', '### Test predictions', '',
                  '![test images, ground truth and each entry\'s '
                  'prediction](results/deepcrack_cpu_predictions.png)', '',
                  'Rows: test images ' + ', '.join(FIGURE_IMAGES) +
                  '; columns: image, ground truth, then each trained '
                  'entry (threshold 0.5).']
    report.write_section(REPORT, 'deepcrack_cpu', lines)
    report.write_costs()
    blocks.write()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument('stage', choices=['run', 'train', 'measure',
                                          'figure', 'report'])
    parser.add_argument('--only', nargs='+', metavar='NAME',
                        help=f'entries to run (default all): {list(ENTRIES)}')
    parser.add_argument('--force', action='store_true',
                        help='rerun entries that are recorded already')
    parser.add_argument('--data-root', default=records.default_data_root())
    parser.add_argument('--work-dir', default='work_dirs/cpu_benchmark')
    parser.add_argument('--threads', type=int, default=2,
                        help='torch threads for the measure stage')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    dict(run=cmd_train, train=cmd_train, measure=cmd_measure,
         figure=cmd_figure, report=cmd_report)[args.stage](args)


if __name__ == '__main__':
    main()
