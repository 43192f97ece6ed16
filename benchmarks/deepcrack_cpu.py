"""CPU-scale DeepCrack benchmark: every entry trained with the same budget.

Small variants of the project's configs (``configs/cpu_benchmark/``) are
trained from the official 300 training images and evaluated on the 237 test
images, one training at a time (two at once would share the two cores).
Stage 1 trains the two teachers; the students start from the "base"
teacher's backbone and the distillers learn from both teachers.

    python benchmarks/deepcrack_cpu.py train [--only NAME ...]
    python benchmarks/deepcrack_cpu.py measure     # speed and memory
    python benchmarks/deepcrack_cpu.py figure      # test predictions PNG
    python benchmarks/deepcrack_cpu.py report      # benchmarks/RESULTS.md

The train stage runs ``tools/train.py`` and then evaluates the final
checkpoint with ``tools/test.py``; both are recorded in
``benchmarks/results/deepcrack_cpu.json`` (exact commands, wall time, peak
memory, step time, test metrics). Recorded trainings and evaluations are
skipped, so the runs can be spread over several sittings.
"""
import argparse
import contextlib
import datetime
import fcntl
import json
import multiprocessing
import os
import os.path as osp
import resource
import subprocess
import sys
import time

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = 'configs/cpu_benchmark'
RESULTS = osp.join(REPO, 'benchmarks', 'results', 'deepcrack_cpu.json')
FIGURE = osp.join(REPO, 'benchmarks', 'results', 'deepcrack_cpu_predictions.png')
REPORT = osp.join(REPO, 'benchmarks', 'RESULTS.md')
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


def default_data_root():
    shared = osp.join(osp.dirname(REPO), 'shared', 'data', 'DeepCrack')
    return shared if osp.isdir(shared) else osp.join(REPO, 'data',
                                                      'DeepCrack')


def load_results_from(path):
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def save_results_to(path, results):
    """Write atomically, so that a reader never sees half a file."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(results, f, indent=2)
        f.write('\n')
    os.replace(path + '.tmp', path)


@contextlib.contextmanager
def locked_results(path):
    """The results at ``path``, read and written back under an exclusive
    lock, so that two sittings recording at once (one per core) lose
    nothing."""
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = load_results_from(path)
        yield results
        save_results_to(path, results)


def load_results():
    return load_results_from(RESULTS)


def save_results(results):
    save_results_to(RESULTS, results)


def teacher_checkpoint(work_dir, teacher):
    """Final checkpoint of an entry (a teacher's is the distillers')."""
    return osp.join(work_dir, teacher, f'iter_{MAX_ITERS}.pth')


def train_command(name, data_root, work_dir):
    """The tools/train.py command line of one entry."""
    config, _, teachers = ENTRIES[name]
    options = [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ]
    if teachers:
        options.append('model.backbone.init_cfg.checkpoint=' +
                       teacher_checkpoint(work_dir, 'teacher_base'))
    if 'teacher_large' in teachers:
        for teacher in ('teacher_large', 'teacher_base'):
            options.append(f'model.teachers.{teacher}.backbone.init_cfg.'
                           f'checkpoint={teacher_checkpoint(work_dir, teacher)}')
    return [
        'python', 'tools/train.py', config, '--work-dir',
        osp.join(work_dir, name), '--cfg-options', *options
    ]


def test_command(name, data_root, work_dir):
    """The tools/test.py command line evaluating an entry's final
    checkpoint on the test split."""
    return [
        'python', 'tools/test.py', ENTRIES[name][0],
        teacher_checkpoint(work_dir, name), '--work-dir',
        osp.join(work_dir, name, 'test'), '--cfg-options',
        f'test_dataloader.dataset.data_root={data_root}'
    ]


def _latest_run(run_dir, relative_path):
    """``relative_path`` (with ``{run}`` for the run's timestamp) in the
    newest mmengine run under ``run_dir`` that has it."""
    paths = [
        osp.join(run_dir, d, relative_path.format(run=d))
        for d in sorted(os.listdir(run_dir)) if osp.isdir(osp.join(run_dir, d))
    ]
    paths = [p for p in paths if osp.isfile(p)]
    if not paths:
        raise FileNotFoundError(
            f'no {relative_path.format(run="<timestamp>")} under {run_dir}')
    return paths[-1]


def read_scalars(run_dir):
    """Training-step times and final loss of one mmengine training run."""
    path = _latest_run(run_dir, osp.join('vis_data', 'scalars.json'))
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    steps = [r for r in records if 'time' in r and 'loss' in r]
    if not steps:
        raise RuntimeError(f'{path} has no training step: did it start?')
    # The first logged window includes start-up (data workers, allocator).
    timed = steps[1:] or steps
    return dict(
        step_seconds=sum(r['time'] for r in timed) / len(timed),
        data_seconds=sum(r['data_time'] for r in timed) / len(timed),
        final_loss=steps[-1]['loss'])


def read_test_metrics(test_dir):
    """The metrics tools/test.py wrote for its newest run."""
    path = _latest_run(test_dir, '{run}.json')
    with open(path) as f:
        metrics = json.load(f)
    if 'crack_iou' not in metrics:
        raise RuntimeError(f'{path} has no crack metrics: {sorted(metrics)}')
    return {
        k: v
        for k, v in metrics.items() if k not in ('data_time', 'time', 'step')
    }


def git_commit():
    return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO,
                          capture_output=True, text=True).stdout.strip()


def run_tool(name, cmd):
    """Run a tools/ command; its wall time, peak RSS and the commit."""
    printable = ' '.join(cmd)
    print(f'+ {printable}', flush=True)
    commit = git_commit()
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    tic = time.time()
    proc = subprocess.Popen([sys.executable] + cmd[1:], cwd=REPO, env=env)
    # wait4 reports this run's own peak RSS (its data workers included).
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.time() - tic
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f'{name}: {cmd[1]} failed with exit code {code}')
    return dict(command=printable, commit=commit,
                date=datetime.date.today().isoformat(),
                wall_seconds=round(seconds, 1),
                peak_rss_mib=round(usage.ru_maxrss / 1024))


def run_training(name, args):
    run = run_tool(name, train_command(
        name, osp.relpath(args.data_root, REPO), args.work_dir))
    return dict(
        config=ENTRIES[name][0],
        description=ENTRIES[name][1],
        command=run['command'],
        train_wall_seconds=run['wall_seconds'],
        train_peak_rss_mib=run['peak_rss_mib'],
        commit=run['commit'],
        date=run['date'],
        **read_scalars(osp.join(REPO, args.work_dir, name)))


def run_test(name, args):
    run = run_tool(name, test_command(
        name, osp.relpath(args.data_root, REPO), args.work_dir))
    return dict(run, metrics=read_test_metrics(
        osp.join(REPO, args.work_dir, name, 'test')))


def cmd_train(args):
    names = args.only or list(ENTRIES)
    unknown = sorted(set(names) - set(ENTRIES))
    if unknown:
        raise SystemExit(f'unknown entries {unknown}; known: {list(ENTRIES)}')
    for name in names:
        recorded = load_results().get(name, {})
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
            _record(name, train=run_training(name, args))
        if not osp.isfile(
                osp.join(REPO, teacher_checkpoint(args.work_dir, name))):
            raise SystemExit(f'{name} is recorded as trained but its '
                             'checkpoint is not in --work-dir; rerun it with '
                             '--force')
        test = run_test(name, args)
        _record(name, test=test)
        metrics = test['metrics']
        print(f'{name}: crack IoU {metrics["crack_iou"]:.2f}, F1 '
              f'{metrics["crack_f1"]:.2f}', flush=True)


def _record(name, **parts):
    results = load_results()
    results[name] = dict(results.get(name, {}), **parts)
    save_results(results)


def checkpoint_of(name, work_dir):
    path = osp.join(REPO, work_dir, name, f'iter_{MAX_ITERS}.pth')
    return path if osp.isfile(path) else None


def build_trained(name, work_dir):
    """The deployable model of an entry (a distiller's student alone),
    with its trained weights loaded with strict keys."""
    return build_deployable(osp.join(REPO, ENTRIES[name][0]),
                            checkpoint_of(name, work_dir))


def build_deployable(config, checkpoint):
    """A config's deployable model (a distiller's student alone) with a
    checkpoint's weights loaded with strict keys and its calibration, in
    eval mode."""
    from crackdino_mm.apis import init_crack_model
    return init_crack_model(config, checkpoint, cfg_options={
        'model.backbone.init_cfg': None})


def predict(model, img):
    """Crack mask (0/1) and probability of a BGR image, at its own size."""
    import torch
    from mmseg.structures import SegDataSample
    height, width = img.shape[:2]
    sample = SegDataSample(metainfo=dict(
        ori_shape=(height, width), img_shape=(height, width),
        pad_shape=(height, width)))
    inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    with torch.no_grad():
        result = model.test_step(dict(inputs=[inputs],
                                      data_samples=[sample]))[0]
    return result.pred_sem_seg.data[0].numpy().astype(np.uint8)


def synthetic_batch(batch_size, size, rng):
    """A training batch of random pixels with about 3 % crack labels."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(batch_size):
        label = torch.from_numpy(rng.random((1, size, size)) < 0.03).long()
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=(size, size),
                                 pad_shape=(size, size),
                                 ori_shape=(size, size)))
        samples.append(sample)
    inputs = [
        torch.from_numpy(rng.integers(0, 256, (3, size, size), np.uint8))
        for _ in range(batch_size)
    ]
    return dict(inputs=inputs, data_samples=samples)


def measure_one(name, work_dir, threads, queue):
    """Inference images/s at 448x448 (the deployable model, predicting as
    in the evaluation: nine 224x224 windows) and training s/step (batch 8,
    224x224, the config's optimiser), in a process of its own so that its
    peak RSS is this entry's alone."""
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
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
    results = load_results()
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
        results = load_results()
        results.setdefault(name, {})['speed'] = dict(
            figures, command='python benchmarks/deepcrack_cpu.py measure',
            date=datetime.date.today().isoformat())
        save_results(results)
        print(f'{name}: {figures}', flush=True)


def caption(panel, text):
    bar = np.full((24, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, panel], axis=0)


def cmd_figure(args):
    """Test images | ground truth | each trained entry's prediction."""
    from crackdino_mm.datasets.transforms import binarize_crack_mask
    from crackdino_mm.inspection.visualization import overlay_mask
    names = [n for n in ENTRIES if checkpoint_of(n, args.work_dir)]
    if not names:
        raise SystemExit('no trained entry: run the train stage first')
    models = {name: build_trained(name, args.work_dir) for name in names}
    rows = []
    for image_name in FIGURE_IMAGES:
        path = osp.join(args.data_root, 'test_img', image_name + '.jpg')
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'cannot read test image {path}')
        mask_path = osp.join(args.data_root, 'test_lab', image_name + '.png')
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


ACCURACY_COLUMNS = [('crack_iou', 'crack IoU'), ('crack_f1', 'F1'),
                    ('precision', 'P'), ('recall', 'R'), ('ods', 'ODS'),
                    ('ois', 'OIS'), ('ap', 'AP')]
ABLATION = ('student_plain', 'student_lipschitz', 'distill_plain',
            'crackdino')


def write_section(path, key, lines):
    """Replace the block between ``<!-- key -->`` and ``<!-- /key -->`` in
    a Markdown file (appended when absent), so several benchmarks report
    into one file."""
    start, end = f'<!-- {key} -->', f'<!-- /{key} -->'
    block = '\n'.join([start] + lines + [end])
    text = open(path).read() if osp.isfile(path) else ''
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = (text.rstrip('\n') + '\n\n' if text else '') + block + '\n'
    with open(path, 'w') as f:
        f.write(text)


def _cell(value, digits=2):
    return '' if value is None else f'{value:.{digits}f}'


def cmd_report(args):
    """Write benchmarks/RESULTS.md from the recorded results."""
    results = load_results()
    lines = [
        '# CPU-scale benchmarks', '',
        '## DeepCrack only: every model trained on the 300 DeepCrack '
        'images', '',
        'Written by `python benchmarks/deepcrack_cpu.py report` from '
        '`benchmarks/results/deepcrack_cpu.json`; every figure comes from '
        'the command recorded next to it there.', '',
        '### Setup', '',
        'No GPU and no pretrained weights are available where this runs, so '
        'the project\'s configs are scaled down (`configs/cpu_benchmark/`) '
        'and trained from the 300 official DeepCrack training images with '
        'one budget for every entry: **1000 iterations at batch 8, 224x224 '
        'crops** (27 epochs), AdamW lr 5e-4, warm-up + cosine, gradient '
        'clipping 1.0, the crack-weighted BCE + Dice loss. The final '
        'checkpoint is then evaluated by `tools/test.py` on the 237 test '
        'images at their own size, predicted by 224x224 sliding windows '
        '(stride 160, the training crop size), threshold 0.5, metrics '
        'summed over the dataset (ODS/OIS/AP sweep the threshold; '
        'tolerance 0 px).', '',
        '- Stage 1 trains the teachers from scratch: "base" = DINOv2 '
        'architecture, width 192, 12 blocks (ViT-Ti/14); "large" = width '
        '192, 24 blocks.',
        '- The students have the base teacher\'s architecture and start '
        'from its backbone (as the method\'s student starts from '
        'DINOv2-B). The distillers align student blocks 3/7/11 with the '
        'large teacher\'s 7/15/23 and the base teacher\'s 3/7/11 (channel '
        'KL, T = 3, weights 0.6/0.4, 0.7 segmentation + 0.3 '
        'distillation, centring momentum 0.9).',
        '- Training runs one at a time on the 2 cores; the wall times below '
        'are what each run took (other work on the machine slows them), '
        'the speed columns come from one separate `measure` run, so they '
        'compare with each other.',
        '- Each entry is one run with mmengine\'s random seed (logged in its '
        'work directory); the spread between seeds has not been measured, '
        'so a difference of a point or two may be noise.',
        '- These runs predate three corrections (commit e30355b): their '
        'distillation loss was uncalibrated (a backbone gradient ratio of '
        'about 0.025 against the calibrated 0.33, measured by '
        '`benchmarks/distill_grad_ratio.py`), their gradient penalty was '
        'two-sided and their BCE was averaged over padding too. Rerunning '
        'them now trains with the corrected losses. The crack-transfer '
        'benchmark below is the one that tests distillation.', '',
        '### Reproduce', '', '```bash',
        'python benchmarks/deepcrack_cpu.py train     # every entry, '
        'skips recorded ones',
        'python benchmarks/deepcrack_cpu.py measure   # speed, one '
        'process per entry',
        'python benchmarks/deepcrack_cpu.py figure',
        'python benchmarks/deepcrack_cpu.py report', '```', '',
        '### Accuracy on the 237 test images (%)', '',
        '| entry | what | ' + ' | '.join(n for _, n in ACCURACY_COLUMNS) +
        ' |', '|---|---|' + '---|' * len(ACCURACY_COLUMNS)
    ]
    for name, (_, description, _) in ENTRIES.items():
        test = results.get(name, {}).get('test')
        if test is None:
            lines.append(f'| {name} | {description} | not run yet |' +
                         ' |' * (len(ACCURACY_COLUMNS) - 1))
            continue
        metrics = test['metrics']
        lines.append(f'| {name} | {description} | ' + ' | '.join(
            _cell(metrics.get(key)) for key, _ in ACCURACY_COLUMNS) + ' |')

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
            f'| {name}', _cell(train.get('train_wall_seconds'), 0),
            _cell(train.get('step_seconds')),
            _cell(train.get('train_peak_rss_mib'), 0),
            _cell(speed.get('train_step_seconds_b8_224')),
            _cell(speed.get('inference_images_per_second_448')),
            _cell(speed.get('inference_peak_rss_mib'), 0)
        ]) + ' |')
    lines += ['', 'Inference predicts a 448x448 image as the evaluation '
              'does (nine 224x224 windows, stride 160). Distillers are '
              'measured at inference as the deployable student alone '
              '(teachers removed, as `tools/export_student.py` writes it).',
              '', '### Commands', '']
    for name in ENTRIES:
        for stage in ('train', 'test'):
            run = results.get(name, {}).get(stage)
            if run:
                lines.append(f'- `{name}` {stage} (commit {run["commit"]}, '
                             f'{run["date"]}): `{run["command"]}`')
    if osp.isfile(FIGURE):
        lines += ['', '### Test predictions', '',
                  '![test images, ground truth and each entry\'s '
                  'prediction](results/deepcrack_cpu_predictions.png)', '',
                  'Rows: test images ' + ', '.join(FIGURE_IMAGES) +
                  '; columns: image, ground truth, then each trained '
                  'entry (threshold 0.5).']
    write_section(REPORT, 'deepcrack_cpu', lines)
    print(f'wrote {REPORT}')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument('stage', choices=['train', 'measure', 'figure',
                                          'report'])
    parser.add_argument('--only', nargs='+', metavar='NAME',
                        help=f'entries to run (default all): {list(ENTRIES)}')
    parser.add_argument('--force', action='store_true',
                        help='rerun entries that are recorded already')
    parser.add_argument('--data-root', default=default_data_root())
    parser.add_argument('--work-dir', default='work_dirs/cpu_benchmark')
    parser.add_argument('--threads', type=int, default=2,
                        help='torch threads for the measure stage')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    dict(train=cmd_train, measure=cmd_measure, figure=cmd_figure,
         report=cmd_report)[args.stage](args)


if __name__ == '__main__':
    main()
