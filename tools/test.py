"""MMSeg's own ``tools/test.py``, run with the project's two differences.

Same command line as MMSeg's, plus ``--threshold T`` and ``--scale S``:

1. The runner is the config's ``runner_type`` (``DeviceAwareRunner``: DDP
   in CPU processes), as MMSeg's train.py builds it; MMSeg's test.py always
   builds mmengine's plain Runner.
2. The checkpoint's calibration (decision threshold, test-time scale) is
   applied when it is loaded (``DecisionThresholdHook``);
   ``--threshold``/``--scale`` override it. Any config takes a scale: the
   model is built from ``scalable_config`` (MMSeg's
   ``SegDataPreProcessor`` becomes ``CrackDataPreProcessor``, the same at
   scale 1).

``--out DIR`` writes each prediction as a 0/255 PNG mask named after its
photo (CrackMetric's ``output_dir``). A ``--out``/``--work-dir`` that is
an existing file, or a scale or threshold out of range, is refused in one
line before anything loads; a checkpoint that does not fit the config's
model fails naming both (``CheckpointFitHook``), where mmengine would only
warn and score a half-random model.
"""
import importlib.util
import os.path as osp
import sys

from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from crackdino_mm.apis import (CheckpointMismatch, OneLineParser,
                               check_output_folder,
                               scalable_config, scale_argument,
                               threshold_argument)


def stock_test_module():
    """MMSeg's tools/test.py as a module (found as tools/train.py finds
    MMSeg's train.py)."""
    spec = importlib.util.spec_from_file_location(
        'train_tool', osp.join(osp.dirname(osp.abspath(__file__)),
                               'train.py'))
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    spec = importlib.util.spec_from_file_location(
        'mmseg_test', train_tool.stock_tool('test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def calibrated_runner(threshold=None, scale=None):
    """A stand-in for ``Runner`` in MMSeg's script: ``from_cfg`` adds the
    calibration hook and builds the config's runner type."""

    class CalibratedRunner:

        @staticmethod
        def from_cfg(cfg):
            cfg = scalable_config(cfg)
            hooks = list(cfg.get('custom_hooks') or [])
            hooks = [h for h in hooks if h.get('type') not in
                     ('DecisionThresholdHook', 'CheckpointFitHook')]
            hooks += [dict(type='CheckpointFitHook'),
                      dict(type='DecisionThresholdHook',
                           threshold=threshold, scale=scale)]
            cfg.custom_hooks = hooks
            # Every weight comes from the checkpoint tested (the teachers'
            # and init_cfg files are read only by training).
            cfg.test_only = True
            # CrackMetric writes whenever output_dir is set.
            cfg.test_evaluator.pop('keep_results', None)
            return RUNNERS.build(cfg) if 'runner_type' in cfg else \
                Runner.from_cfg(cfg)

    return CalibratedRunner


def parse_args(argv=None):
    """The project's options, and the rest of the command line for MMSeg's
    test.py."""
    parser = OneLineParser(prog='test.py', add_help=False)
    parser.add_argument('--threshold', type=threshold_argument)
    parser.add_argument('--scale', type=scale_argument)
    parser.add_argument('--out')
    parser.add_argument('--work-dir')
    args, rest = parser.parse_known_args(
        sys.argv[1:] if argv is None else argv)
    for option, folder in output_folders(args):
        rest += [option, folder]
    return args, rest


def output_folders(args):
    """(option, folder) of the outputs given on the command line."""
    return [(option, folder) for option, folder in
            (('--out', args.out), ('--work-dir', args.work_dir)) if folder]


def main(argv=None):
    args, rest = parse_args(argv)
    try:
        for option, folder in output_folders(args):
            check_output_folder(folder, option)
    except ValueError as error:
        print(f'test.py: {error}', file=sys.stderr)
        return 2
    stock = stock_test_module()
    stock.Runner = calibrated_runner(args.threshold, args.scale)
    sys.argv = [stock.__file__] + rest
    try:
        stock.main()
    except CheckpointMismatch as error:
        print(f'test.py: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
