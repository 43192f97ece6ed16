"""The command lines studies run (``tools/train.py``, ``tools/test.py``
and other tools), run from the repository root and timed, and what the
runs leave in their mmengine work directories."""
import datetime
import json
import os
import os.path as osp
import subprocess
import sys
import time

from harness.records import REPO, relative_text

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def data_root_options(data_root, loaders=LOADERS):
    """cfg-options pointing each of ``loaders`` at ``data_root``."""
    return [f'{loader}.dataset.data_root={data_root}' for loader in loaders]


def resume_flag(work_dir):
    """``--resume`` when an earlier sitting left a checkpoint to go on
    from in ``work_dir`` (relative to the repository)."""
    return ['--resume'] if osp.isfile(
        osp.join(REPO, work_dir, 'last_checkpoint')) else []


def train_command(config, work_dir, options, resume=()):
    """The ``tools/train.py`` command line of one training."""
    return tool_command('train', config, '--work-dir', work_dir, *resume,
                        options=options)


def test_command(config, checkpoint, work_dir, options, tta=False):
    """The ``tools/test.py`` command line of one evaluation."""
    return tool_command('test', config, checkpoint, '--work-dir', work_dir,
                        *(['--tta'] if tta else []), options=options)


def tool_command(tool, *args, options=()):
    """The command line of ``tools/<tool>.py`` with its arguments and,
    if any, its ``--cfg-options``."""
    return (['python', f'tools/{tool}.py', *map(str, args)] +
            (['--cfg-options', *options] if options else []))


def git_commit():
    return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO,
                          capture_output=True, text=True).stdout.strip()


def run_tool(name, cmd):
    """Run a ``python tools/...`` command from the repository root: its
    command (paths relative), commit, date, wall time and peak RSS."""
    printable = relative_text(' '.join(cmd))
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


def study_command(script, argv):
    """The command line a study was started with, as recorded."""
    return relative_text(' '.join(['python', f'benchmarks/{script}'] +
                                  list(argv)))


def latest_run(run_dir, relative_path):
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
    path = latest_run(run_dir, osp.join('vis_data', 'scalars.json'))
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
    """The metrics ``tools/test.py`` wrote for its newest run."""
    path = latest_run(test_dir, '{run}.json')
    with open(path) as f:
        metrics = json.load(f)
    if 'crack_iou' not in metrics:
        raise RuntimeError(f'{path} has no crack metrics: {sorted(metrics)}')
    return {
        k: v
        for k, v in metrics.items() if k not in ('data_time', 'time', 'step')
    }
