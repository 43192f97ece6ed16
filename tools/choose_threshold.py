"""Choose a checkpoint's decision threshold on validation data and store it.

    python tools/choose_threshold.py CONFIG CHECKPOINT [--out NEW_CKPT] \
        [--out-config NEW_CONFIG] [--cfg-options ...]

Runs the config's validation (``val_dataloader``, ``val_evaluator``:
``CrackMetric``) and takes the threshold of best dataset-level F (ODS).
The threshold is written into the checkpoint's ``meta['decision_threshold']``
(in place, or into ``--out``), where ``init_crack_model`` and the
``DecisionThresholdHook`` find it. ``--out-config`` also writes the
deployable config calibrated for MMSeg's own ``init_model`` and
``inference_model``: ``model.decode_head.threshold`` and, when the
checkpoint stores a test-time scale, a ``CrackDataPreProcessor`` with
``test_cfg.scale``.
"""
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from crackdino_mm.apis import (OneLineParser, calibrated_config,
                               check_output_file, ods_threshold,
                               read_calibration, write_calibration)


def parse_args(argv=None):
    parser = OneLineParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument(
        '--out', help='write the checkpoint with its threshold here instead '
        'of updating CHECKPOINT in place')
    parser.add_argument(
        '--out-config', help='also write the config with this threshold')
    parser.add_argument('--work-dir', help='directory for the logs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def check_outputs(args) -> None:
    """Refuse, before any work, a ``--out`` that is the config or an
    existing file that is not a checkpoint, and an ``--out-config`` that is
    the config or the checkpoint (ValueError of one line)."""
    if args.out:
        check_output_file(args.out, '--out', [('config', args.config)])
        in_place = osp.exists(args.checkpoint) and osp.isfile(args.out) \
            and osp.samefile(args.out, args.checkpoint)
        if osp.isfile(args.out) and not in_place:
            try:
                read_calibration(args.out)
            except (KeyError, ValueError) as error:
                raise ValueError(f'--out {args.out} exists and is not a '
                                 f'checkpoint ({error}); give another '
                                 'path') from None
    if args.out_config:
        check_output_file(args.out_config, '--out-config',
                          [('config', args.config),
                           ('checkpoint', args.checkpoint)])


def main(argv=None):
    args = parse_args(argv)
    try:
        check_outputs(args)
    except ValueError as error:
        print(f'choose_threshold.py: {error}', file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    scale = read_calibration(args.checkpoint)['scale']
    metrics = Runner.from_cfg(cfg).val()
    threshold = ods_threshold(metrics, args.config)
    write_calibration(args.checkpoint, out=args.out, threshold=threshold)
    print(f'decision threshold {threshold} (best F on the validation data, '
          f'ODS {metrics.get("ods")}) written to the meta of '
          f'{args.out or args.checkpoint}')
    if args.out_config:
        cfg = calibrated_config(cfg, threshold, scale)
        cfg.load_from = None
        cfg.dump(args.out_config)
        print(f'config with this calibration (threshold {threshold}, scale '
              f'{scale}): {osp.abspath(args.out_config)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
