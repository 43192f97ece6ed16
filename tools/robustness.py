"""Crack metrics under FGSM/PGD attacks made in pixel space.

    python tools/robustness.py CONFIG CHECKPOINT [--eps 1 2 4 8] \
        [--attack pgd] [--steps 10] [--out robustness.json] [--work-dir DIR] \
        [--threshold T] [--scale S]

The model is the deployable one (a distiller's student), scored at the
checkpoint's calibration (decision threshold, test-time scale) unless
``--threshold``/``--scale`` are given.

The perturbation is added to the raw 0-255 pixels before the model's own
normalisation (its SegDataPreProcessor), bounded by epsilon in L-infinity
(epsilons in pixel units, e.g. 8 = 8/255 of the range), and the attacked
image is clamped to [0, 255]: a valid image. PGD starts from a uniform
random point in the epsilon ball and takes ``--steps`` signed-gradient
steps of ``--step-size`` (default 2.5 * eps / steps), maximising the
binary cross-entropy of the predicted crack probability against the
ground truth over non-ignored pixels. Epsilon 0 is the clean evaluation. Every epsilon is evaluated with
CrackMetric on the config's test set; the table is printed and written
as JSON to ``--out``, or to ``WORK_DIR/robustness.json`` with
``--work-dir``, with each image's crack counts (TP, FP, FN) per run.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from crackdino_mm.apis import (OneLineParser, PixelSpaceAttack,
                               apply_calibration, check_output_file,
                               check_output_folder, evaluate_attacks,
                               init_crack_model, scale_argument,
                               threshold_argument)


def parse_args(argv=None):
    parser = OneLineParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--eps', type=float, nargs='+', default=[1, 2, 4, 8],
                        help='L-infinity budgets in 0-255 pixel units')
    parser.add_argument('--attack', choices=['pgd', 'fgsm', 'both'],
                        default='pgd')
    parser.add_argument('--steps', type=int, default=10, help='PGD steps')
    parser.add_argument('--step-size', type=float,
                        help='PGD step in pixel units (2.5 * eps / steps)')
    parser.add_argument('--limit', type=int,
                        help='evaluate only the first N test images')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='JSON file for the results')
    parser.add_argument('--work-dir',
                        help='folder for robustness.json when --out is not '
                        'given')
    parser.add_argument('--threshold', type=threshold_argument,
                        help="decision threshold (default: the checkpoint's)")
    parser.add_argument('--scale', type=scale_argument,
                        help="test-time input scale (default: the "
                        "checkpoint's)")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if any(e < 0 for e in args.eps):
        parser.error('--eps values must be >= 0')
    if args.steps < 1:
        parser.error('--steps must be >= 1')
    return args


def format_table(results: Dict[str, Dict[str, float]], keys: List[str]):
    header = '| run | ' + ' | '.join(keys) + ' |'
    lines = [header, '|' + '---|' * (len(keys) + 1)]
    for name, values in results.items():
        lines.append(f'| {name} | ' +
                     ' | '.join(f'{values[k]:.2f}' for k in keys) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    out = args.out or (args.work_dir
                       and osp.join(args.work_dir, 'robustness.json'))
    try:
        if args.work_dir:
            check_output_folder(args.work_dir, '--work-dir')
        if out:
            check_output_file(out, '--out', [('config', args.config),
                                             ('checkpoint', args.checkpoint)])
    except ValueError as error:
        print(f'robustness.py: {error}', file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = init_crack_model(cfg, args.checkpoint, args.device,
                             threshold=args.threshold, scale=args.scale)
    calibration = apply_calibration(model)
    for param in model.parameters():
        param.requires_grad_(False)
    loader_cfg = cfg.test_dataloader.copy()
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    dataloader = Runner.build_dataloader(loader_cfg)
    metric_cfg = dict(type='CrackMetric')
    if cfg.get('test_evaluator', {}).get('type') == 'CrackMetric':
        metric_cfg = dict(cfg.test_evaluator)
        # One metric per attack: prediction PNGs would overwrite each other.
        metric_cfg.pop('output_dir', None)
    methods = ['fgsm', 'pgd'] if args.attack == 'both' else [args.attack]
    attack = PixelSpaceAttack(model, args.steps, args.step_size, args.seed)
    results, image_counts = evaluate_attacks(
        model, dataloader, metric_cfg, attack, args.eps, methods, args.limit)
    keys = ['crack_iou', 'crack_f1', 'precision', 'recall', 'ods', 'ois']
    print(format_table(results, keys))
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           eps_pixel_units=args.eps, steps=args.steps,
                           **calibration,
                           results=results, image_counts=image_counts),
                      f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
