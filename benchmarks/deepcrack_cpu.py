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

Each finished training is recorded in ``benchmarks/results/deepcrack_cpu.json``
(metrics, wall time, peak memory, the exact command); an entry already
recorded is skipped, so the runs can be spread over several sittings.
"""
import argparse
import datetime
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = 'configs/cpu_benchmark'
RESULTS = osp.join(REPO, 'benchmarks', 'results', 'deepcrack_cpu.json')
SCHEDULE = '300it'


def _config(name):
    return f'{CONFIG_DIR}/{name}_{SCHEDULE}_deepcrack-224x224.py'


# name -> (config, what it is, which stage-1 teachers it needs)
ENTRIES = {
    'teacher_base': (_config('dinov2-teacher-b_vit-w192d12'),
                     'stage 1: "base" teacher, ViT-192/12, from scratch', ()),
    'teacher_large': (_config('dinov2-teacher-l_vit-w192d24'),
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
}


def default_data_root():
    shared = osp.join(osp.dirname(REPO), 'shared', 'data', 'DeepCrack')
    return shared if osp.isdir(shared) else osp.join(REPO, 'data',
                                                      'DeepCrack')


def load_results():
    if not osp.isfile(RESULTS):
        return {}
    with open(RESULTS) as f:
        return json.load(f)


def save_results(results):
    os.makedirs(osp.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, 'w') as f:
        json.dump(results, f, indent=2)
        f.write('\n')


def teacher_checkpoint(work_dir, teacher):
    return osp.join(work_dir, teacher, f'iter_{SCHEDULE[:-2]}.pth')


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
        for index, teacher in enumerate(('teacher_large', 'teacher_base')):
            options.append(f'model.teachers.{index}.backbone.init_cfg.'
                           f'checkpoint={teacher_checkpoint(work_dir, teacher)}')
    return [
        'python', 'tools/train.py', config, '--work-dir',
        osp.join(work_dir, name), '--cfg-options', *options
    ]


def read_scalars(run_dir):
    """Training-step times and the final evaluation of one mmengine run."""
    runs = sorted(
        d for d in os.listdir(run_dir)
        if osp.isfile(osp.join(run_dir, d, 'vis_data', 'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'no scalars.json under {run_dir}')
    path = osp.join(run_dir, runs[-1], 'vis_data', 'scalars.json')
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    steps = [r for r in records if 'time' in r and 'loss' in r]
    evals = [r for r in records if 'crack_iou' in r]
    if not evals:
        raise RuntimeError(f'{path} has no evaluation: did training finish?')
    # The first logged window includes start-up (data workers, allocator).
    timed = steps[1:] or steps
    return dict(
        step_seconds=sum(r['time'] for r in timed) / len(timed),
        data_seconds=sum(r['data_time'] for r in timed) / len(timed),
        final_loss=steps[-1]['loss'] if steps else None,
        metrics={k: v for k, v in evals[-1].items() if k != 'step'})


def run_training(name, args):
    cmd = train_command(name, args.data_root, args.work_dir)
    printable = ' '.join(cmd)
    print(f'+ {printable}', flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    tic = time.time()
    proc = subprocess.Popen([sys.executable] + cmd[1:], cwd=REPO, env=env)
    # wait4 reports this run's own peak RSS (its data workers included).
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.time() - tic
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f'{name}: training failed with exit code {code}')
    record = dict(
        config=ENTRIES[name][0],
        description=ENTRIES[name][1],
        command=printable,
        train_wall_seconds=round(seconds, 1),
        train_peak_rss_mib=round(usage.ru_maxrss / 1024),
        commit=subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                              cwd=REPO, capture_output=True,
                              text=True).stdout.strip(),
        date=datetime.date.today().isoformat(),
        **read_scalars(osp.join(REPO, args.work_dir, name)))
    return record


def cmd_train(args):
    names = args.only or list(ENTRIES)
    unknown = sorted(set(names) - set(ENTRIES))
    if unknown:
        raise SystemExit(f'unknown entries {unknown}; known: {list(ENTRIES)}')
    for name in names:
        results = load_results()
        if name in results and not args.force:
            print(f'{name}: recorded already (use --force to rerun)')
            continue
        missing = [
            t for t in ENTRIES[name][2]
            if not osp.isfile(
                osp.join(REPO, teacher_checkpoint(args.work_dir, t)))
        ]
        if missing:
            raise SystemExit(f'{name} needs the stage-1 teachers {missing} '
                             'trained first')
        record = run_training(name, args)
        results = load_results()
        results[name] = dict(results.get(name, {}), train=record)
        save_results(results)
        metrics = record['metrics']
        print(f'{name}: crack IoU {metrics["crack_iou"]:.2f}, F1 '
              f'{metrics["crack_f1"]:.2f}, {record["train_wall_seconds"]:.0f}'
              ' s', flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument('stage', choices=['train'])
    parser.add_argument('--only', nargs='+', metavar='NAME',
                        help=f'entries to run (default all): {list(ENTRIES)}')
    parser.add_argument('--force', action='store_true',
                        help='rerun entries that are recorded already')
    parser.add_argument('--data-root', default=default_data_root())
    parser.add_argument('--work-dir', default='work_dirs/cpu_benchmark')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    {'train': cmd_train}[args.stage](args)


if __name__ == '__main__':
    main()
