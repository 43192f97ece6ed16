"""Adapt a trained crack model to a new site: a few labelled photos, or
unlabelled ones.

    python tools/adapt.py CONFIG CHECKPOINT --images DIR --masks DIR \
        --out ADAPTED.pth [--k K] [--unlabelled DIR] [--max-unlabelled N] \
        [--min-gain F] [--scale-min-gain F] [--finetune-iters N] \
        [--distiller-config CFG] [--seed S] [--out-config CFG] \
        [--cfg-options ...]

``--images``/``--masks`` hold the site's labelled photos, paired as
``CrackFolderDataset`` pairs them (``--k`` draws that many with
``--seed``); the decision threshold and test-time scale are chosen on
them and stored in ADAPTED.pth, where tools/test.py, tools/infer.py, the
ONNX export and ``init_crack_model`` apply them (an explicit
``--threshold``/``--scale`` there wins). ``--unlabelled`` photos (at most
``--max-unlabelled``, drawn with ``--seed``) re-estimate the normalisation
statistics; ``--finetune-iters`` fine-tunes on the labelled photos (by
default, given enough of them: README "A new site"), with the dual-teacher
distillation on the unlabelled ones when the config (or
``--distiller-config``) is a distiller. ``--out`` naming CHECKPOINT (or
a link to it) is refused unless ``--overwrite``.
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import Config, DictAction

from crackdino_mm.apis import (FINETUNE_ITERS, MAX_UNLABELLED,
                               MIN_FINETUNE_PHOTOS, READY_CPU_CHECKPOINT,
                               READY_CPU_CONFIG, SCALE_GRID, OneLineParser,
                               adapt_to_site, calibrated_config,
                               check_output_file, check_output_folder,
                               read_calibration, scale_argument)

READY_MODEL = f"""\
Without a GPU, start from the ready CPU model, trained on DeepCrack
(README, "A ready CPU model"):
  CONFIG     {READY_CPU_CONFIG}
  CHECKPOINT {READY_CPU_CHECKPOINT}
"""


def parse_args(argv=None):
    parser = OneLineParser(
        description=__doc__.split('\n')[0], epilog=READY_MODEL,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True,
                        help='the adapted checkpoint to write')
    parser.add_argument('--overwrite', action='store_true',
                        help='let --out (or --out-config) replace the '
                        'checkpoint (or config) it names')
    parser.add_argument('--images', help='folder of labelled site photos')
    parser.add_argument('--masks', help='their crack masks')
    parser.add_argument('--k', type=int,
                        help='draw this many labelled photos (default all)')
    parser.add_argument('--unlabelled', help='folder of unlabelled photos')
    parser.add_argument('--max-unlabelled', type=int, default=MAX_UNLABELLED,
                        help='read at most this many unlabelled photos, '
                        'drawn with --seed (default %(default)s)')
    parser.add_argument('--finetune-iters', type=int,
                        help='fine-tuning steps on the labelled photos (0: '
                        f'none; default {FINETUNE_ITERS} from '
                        f'{MIN_FINETUNE_PHOTOS} photos, else none: README '
                        '"A new site")')
    parser.add_argument('--train-blocks', type=int,
                        help='last DINOv2 blocks fine-tuned (default 4; '
                        'other backbones are fine-tuned whole)')
    parser.add_argument('--distiller-config',
                        help='distiller whose teachers distil on the '
                        'unlabelled photos (default: CONFIG if a distiller)')
    parser.add_argument('--scales', type=scale_argument, nargs='+',
                        help='test-time scales to choose from (default: '
                        'the rule for K photos; with a scale, '
                        f'{" ".join(f"{s:g}" for s in SCALE_GRID)})')
    parser.add_argument('--min-gain', type=float,
                        help='F points on the labelled photos by which the '
                        'chosen threshold and scale must beat the '
                        "checkpoint's before they replace it (0: always, "
                        'inf: never; default: the rule for K photos, '
                        'README "A new site")')
    parser.add_argument('--scale-min-gain', type=float,
                        help='F points by which a new test-time scale must '
                        'beat the best threshold at the checkpoint\'s scale '
                        '(0: the best pair, inf: never; default: the rule '
                        'for K photos, or 0 with --scales)')
    parser.add_argument('--no-norm-stats', action='store_true',
                        help='keep the normalisation statistics')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', help='fine-tuning logs and weights')
    parser.add_argument('--out-config',
                        help='also write the config that predicts with the '
                        "adapted calibration (MMSeg's init_model)")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for name in ('config', 'checkpoint', 'images', 'masks', 'unlabelled',
                 'distiller_config'):
        path = getattr(args, name)
        if path and not osp.exists(path):
            print(f'adapt: {name.replace("_", "-")} {path} does not exist',
                  file=sys.stderr)
            return 2
    try:
        check_output_file(args.out, '--out',
                          [('checkpoint', args.checkpoint)], args.overwrite)
        if args.out_config:
            check_output_file(args.out_config, '--out-config',
                              [('config', args.config),
                               ('checkpoint', args.checkpoint)],
                              args.overwrite)
        if args.work_dir:
            check_output_folder(args.work_dir, '--work-dir',
                                [args.images, args.masks, args.unlabelled])
    except ValueError as error:
        print(f'adapt: {error}', file=sys.stderr)
        return 2
    try:
        record = adapt_to_site(
            args.config, args.checkpoint, args.out, images=args.images,
            masks=args.masks, unlabelled=args.unlabelled, k=args.k,
            seed=args.seed, max_unlabelled=args.max_unlabelled,
            finetune_iters=args.finetune_iters,
            distiller_config=args.distiller_config,
            train_blocks=args.train_blocks, scales=args.scales,
            min_gain=args.min_gain, scale_min_gain=args.scale_min_gain,
            norm_stats=not args.no_norm_stats, work_dir=args.work_dir,
            device=args.device, cfg_options=args.cfg_options)
    except (ValueError, KeyError, FileNotFoundError) as error:
        print(f'adapt: {one_line(error)}', file=sys.stderr)
        return 2
    print(json.dumps(record, indent=1))
    if args.out_config:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        stored = read_calibration(args.out)
        calibrated_config(cfg, stored['threshold'],
                          stored['scale']).dump(args.out_config)
        print(f'config with this calibration: {args.out_config}')
    print(f'adapted model written to {args.out}')
    print(closing_summary(args, record))
    return 0


def one_line(error):
    """An error's message on one line (a data set lists its problems one
    per line)."""
    text = error.args[0] if isinstance(error, KeyError) and error.args \
        else str(error)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if len(lines) < 2:
        return ''.join(lines) or type(error).__name__
    return f'{lines[0]} {"; ".join(lines[1:])}'


def kept_line(record):
    """Why calibration kept the checkpoint's threshold and scale, if it
    did."""
    step = next((s for s in record['steps'] if s['step'] == 'calibration'),
                None)
    if not step:
        return []
    photos, lines = len(record['labelled']), []
    if step['kept_scale']:
        gain = step['best']['f'] - step['at_stored_scale']['f']
        lines.append(
            f"kept the checkpoint's scale: scale {step['best']['scale']:g} "
            f'gained {gain:+.1f} F points over the best threshold alone, '
            f'the rule for {photos} photos needs '
            f'{step["scale_min_gain"]:g} (--scale-min-gain)')
    if step['kept_stored']:
        gain = step['chosen']['f'] - step['stored']['f']
        margin = 'never changes it' if step['min_gain'] is None else \
            f'needs {step["min_gain"]:g}'
        lines.append(f"kept the checkpoint's calibration: the photos' F "
                     f'gained {gain:+.1f} points, the rule for {photos} '
                     f'photos {margin} (--min-gain)')
    return lines


def closing_summary(args, record):
    """What was chosen, what it costs at prediction time, and the
    commands that test and run the adapted model."""
    stored = read_calibration(args.out)
    scale = stored['scale'] or 1.0
    config = args.out_config or args.config
    photos = args.unlabelled or args.images
    steps = ', '.join(step['step'] for step in record['steps'])
    lines = [
        f'chose: decision threshold {stored["threshold"]}, test-time scale '
        f'{scale} ({steps}; {record["seconds"]} s)', *kept_line(record),
        f'cost: the model sees every photo resized by {scale}, so each '
        f'prediction takes about {scale ** 2:.2g} times as long as at scale '
        '1' if scale != 1 else 'cost: scale 1, predictions as fast as '
        'before',
        'run it on the site\'s photos (report in work_dirs/site_photos/'
        'index.html):',
        f'  python tools/infer.py {config} {args.out} {photos} '
        '--out-dir work_dirs/site_photos',
        'score it on labelled site photos it has not seen (SITE_TEST holds '
        'test_img/ and test_lab/):',
        f'  python tools/test.py {config} {args.out} --cfg-options '
        'test_dataloader.dataset.data_root=SITE_TEST',
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
