"""Does test-time augmentation help, and what does it cost? (CPU scale)

Tests one DeepCrack-trained checkpoint three ways with ``tools/test.py``:
without TTA, with the four views CPU-scale training shows (flips: quarter
turns 0 and 2, each with and without a horizontal flip) and with all eight
orientations (odd quarter turns too, which that training never shows).
Each variant's metrics and the mean time per test image are recorded in
``benchmarks/results/tta_cpu.json`` (skipped when recorded, so it resumes)
and reported in ``benchmarks/RESULTS.md``.

    python benchmarks/tta_cpu.py run CONFIG CHECKPOINT [--threads 1]
    python benchmarks/tta_cpu.py report
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config

from harness import blocks, commands, records, report
from harness import front_page  # noqa: F401  registers the README's blocks

REPO = records.REPO
RESULTS = records.results_path('tta_cpu.json')
SECTION = 'tta_cpu'
#: variant -> (quarter turns of its views, description); None: no TTA.
VARIANTS = {
    'none': (None, 'no TTA (1 view)'),
    'flips': ((0, 2), 'flips (4 views, as training shows)'),
    'rot8': ((0, 1, 2, 3), 'flips + 90 degree turns (8 views)'),
}


def tta_config(config, turns, out_path):
    """Write ``config`` with a tta_pipeline of the given quarter turns,
    each with and without a horizontal flip."""
    cfg = Config.fromfile(osp.join(REPO, config))
    augment = cfg.tta_pipeline[-1]
    augment.transforms[0] = [dict(type='Rot90', k=k) for k in turns]
    cfg.dump(out_path)
    return out_path


def test_command(variant, args):
    turns = VARIANTS[variant][0]
    config = args.config
    if turns is not None:
        config = osp.join(args.work_dir, f'{variant}.py')
        tta_config(args.config, turns, osp.join(REPO, config))
    return commands.test_command(
        config, args.checkpoint, osp.join(args.work_dir, variant),
        commands.data_root_options(records.relative(args.data_root),
                                   ('test_dataloader', )),
        tta=turns is not None)


def read_seconds_per_image(test_dir):
    """Mean test-loop time per iteration (batch 1: per image)."""
    with open(commands.latest_run(test_dir, '{run}.json')) as f:
        return json.load(f)['time']


def cmd_run(args):
    if args.threads:
        os.environ['OMP_NUM_THREADS'] = str(args.threads)
    os.makedirs(osp.join(REPO, args.work_dir), exist_ok=True)
    for variant in VARIANTS:
        if variant in records.load(RESULTS) and not args.force:
            continue
        run = commands.run_tool(variant, test_command(variant, args))
        test_dir = osp.join(REPO, args.work_dir, variant)
        records.record(
            RESULTS, variant, **run, checkpoint=args.checkpoint,
            config=args.config, threads=os.environ.get('OMP_NUM_THREADS'),
            seconds_per_image=read_seconds_per_image(test_dir),
            metrics=commands.read_test_metrics(test_dir))


@blocks.register('tta', 'docs/results.md')
def variant_table(results=None):
    """Accuracy and time of each recorded variant (x time: against no
    TTA)."""
    results = records.load(RESULTS) if results is None else results
    base = results['none']
    lines = [
        '| variant | crack IoU | F1 | ODS | OIS | AP | s / image | x time |',
        '|---|---|---|---|---|---|---|---|'
    ]
    for variant, (_, description) in VARIANTS.items():
        if variant not in results:
            continue
        r = results[variant]
        m = r['metrics']
        lines.append(
            f'| {description} | {m["crack_iou"]:.2f} | {m["crack_f1"]:.2f} '
            f'| {m["ods"]:.2f} | {m["ois"]:.2f} | {m["ap"]:.2f} | '
            f'{r["seconds_per_image"]:.2f} | '
            f'{r["seconds_per_image"] / base["seconds_per_image"]:.1f} |')
    return '\n'.join(lines)


def cmd_report(args):
    results = records.load(RESULTS)
    if 'none' not in results:
        raise SystemExit(f'nothing recorded in {RESULTS}; run it first')
    base = results['none']
    lines = [
        '## Test-time augmentation (CPU scale)', '',
        f'Checkpoint `{base["checkpoint"]}` ({base["config"]}), DeepCrack '
        'test (237 images, 224 sliding windows), `tools/test.py [--tta]`; '
        'time per image from the test loop, one thread, same sitting.', '',
        variant_table(results)
    ]
    lines += ['', 'Commands:', ''] + report.command_block(
        (f'{variant} (commit {results[variant]["commit"]})',
         results[variant]['command'])
        for variant in VARIANTS if variant in results)
    report.write_section(records.REPORT, SECTION, lines)
    report.write_costs()
    blocks.write()
    print('\n'.join(lines))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='stage', required=True)
    run = sub.add_parser('run')
    run.add_argument('config')
    run.add_argument('checkpoint')
    run.add_argument('--data-root',
                     default=records.default_data_root())
    run.add_argument('--work-dir', default='work_dirs/tta_cpu')
    run.add_argument('--threads', type=int)
    run.add_argument('--force', action='store_true')
    sub.add_parser('report')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    {'run': cmd_run, 'report': cmd_report}[args.stage](args)


if __name__ == '__main__':
    main()
