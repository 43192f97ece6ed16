"""Test a checkpoint from a config (same command line as MMSeg's test.py)."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from mmseg.registry import RUNNERS


def parse_args():
    parser = argparse.ArgumentParser(description='Test a segmentor')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='directory for the evaluation metrics')
    parser.add_argument(
        '--out',
        help='directory where the predicted masks are written as PNG files')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--show-dir', help='directory where painted predictions are saved')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='display interval (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. key=value or a.b=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    parser.add_argument(
        '--threshold', type=float,
        help='decision threshold to use instead of the one stored in the '
        'checkpoint (tools/choose_threshold.py) or the config')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, args):
    """Switch the visualization hook on for --show / --show-dir."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError(
            '--show/--show-dir need a "visualization" entry in '
            'default_hooks, e.g. dict(type="SegVisualizationHook")')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
        hook['interval'] = 1
    return cfg


def use_decision_threshold(cfg, threshold=None):
    """Apply the checkpoint's decision threshold, or ``threshold``, when the
    checkpoint is loaded (also for configs without the hook)."""
    hooks = cfg.get('custom_hooks') or []
    hook = next((h for h in hooks if h.get('type') == 'DecisionThresholdHook'),
                None)
    if hook is None:
        hook = dict(type='DecisionThresholdHook')
        hooks.append(hook)
    if threshold is not None:
        hook['threshold'] = threshold
    cfg.custom_hooks = hooks


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        cfg = enable_visualization(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
    use_decision_threshold(cfg, args.threshold)

    # MMSeg's test.py always builds mmengine's Runner; the configs'
    # runner_type (DeviceAwareRunner) also runs CPU processes.
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
