"""How to predict test images whose sides are not multiples of 14.

    python benchmarks/padding_candidates.py CONFIG CHECKPOINT \
        [--data-root DIR] [--crop 224] [--stride 160] [--limit N] \
        [--candidates NAME ...] [--out FILE] [--cfg-options ...]

Evaluates one checkpoint of a DINOv2-architecture model on the config's
test split (e.g. DeepCrack's 237 images of 544x384 or 384x544) under each
candidate, with CrackMetric, and prints crack IoU, F1, ODS, OIS and AP per
candidate (and writes them as JSON with ``--out``):

- ``whole-backbone-pad``: the whole image; the backbone zero-pads it to a
  multiple of 14 without recording it and MMSeg resizes the padded
  prediction into the image (the old default: shifted by up to 8 px);
- ``whole-zero-pad`` / ``whole-reflect-pad``: the whole image padded by the
  data preprocessor with the mean colour / a mirrored border, recorded
  and cropped off the prediction;
- ``slide``: windows at the training crop, no padding;
- ``slide-zero-pad`` / ``slide-reflect-pad``: windows at the training crop
  over the image padded as above (the full-size configs use
  ``slide-zero-pad``).

A distiller checkpoint is evaluated as its student alone, at the
checkpoint's calibration (``init_crack_model``).
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from crackdino_mm.apis import (deployable_config, evaluate_attacks,
                               init_crack_model)

#: name -> (test mode, padding by the data preprocessor or None)
CANDIDATES = {
    'whole-backbone-pad': ('whole', None),
    'whole-zero-pad': ('whole', 'constant'),
    'whole-reflect-pad': ('whole', 'reflect'),
    'slide': ('slide', None),
    'slide-zero-pad': ('slide', 'constant'),
    'slide-reflect-pad': ('slide', 'reflect'),
}
KEYS = ('crack_iou', 'crack_f1', 'ods', 'ois', 'ap')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', help='test data folder')
    parser.add_argument('--crop', type=int,
                        help='window side (default: the training crop)')
    parser.add_argument('--stride', type=int,
                        help="window stride (default: the config's, else "
                        '3/4 of the crop)')
    parser.add_argument('--candidates', nargs='+', choices=list(CANDIDATES),
                        default=list(CANDIDATES))
    parser.add_argument('--limit', type=int,
                        help='evaluate only the first N test images')
    parser.add_argument('--out', help='JSON file for the results')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def candidate_cfg(model_cfg, name, crop, stride):
    """``model_cfg`` predicting as candidate ``name``."""
    mode, pad = CANDIDATES[name]
    cfg = copy.deepcopy(model_cfg)
    cfg.data_preprocessor.pop('test_cfg', None)
    # Without test_cfg it is SegDataPreProcessor, plus a test-time scale.
    cfg.data_preprocessor.type = 'CrackDataPreProcessor'
    if pad is not None:
        cfg.data_preprocessor.test_cfg = dict(size_divisor=14, pad_mode=pad)
    cfg.test_cfg = dict(mode='whole') if mode == 'whole' else dict(
        mode='slide', crop_size=(crop, crop), stride=(stride, stride))
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        cfg.test_dataloader.dataset.data_root = args.data_root
    cfg = deployable_config(cfg)
    model_cfg = cfg.model
    crop = args.crop or model_cfg.data_preprocessor.size[0]
    config_stride = model_cfg.get('test_cfg', {}).get('stride')
    stride = args.stride or (config_stride[0] if config_stride
                             and model_cfg.test_cfg.get('crop_size') == (
                                 crop, crop) else crop * 3 // 4)
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    dataloader = Runner.build_dataloader(loader_cfg)
    metric_cfg = dict(cfg.get('test_evaluator') or dict(type='CrackMetric'))
    metric_cfg.pop('output_dir', None)

    results = {}
    for name in args.candidates:
        cfg.model = candidate_cfg(model_cfg, name, crop, stride)
        model = init_crack_model(cfg, args.checkpoint)
        start = time.perf_counter()
        metrics = evaluate_attacks(model, dataloader, metric_cfg,
                                   limit=args.limit,
                                   progress=False)[0]['clean']
        results[name] = {k: metrics[k] for k in KEYS}
        results[name]['seconds'] = time.perf_counter() - start
        print(f'{name}: ' + ', '.join(f'{k} {results[name][k]:.2f}'
                                      for k in KEYS), flush=True)

    print(f'\n{args.checkpoint}, crop {crop}, stride {stride}\n')
    print('| candidate | ' + ' | '.join(KEYS) + ' | seconds |')
    print('|---' * (len(KEYS) + 2) + '|')
    for name, row in results.items():
        print(f'| {name} | ' + ' | '.join(f'{row[k]:.2f}' for k in KEYS) +
              f' | {row["seconds"]:.0f} |')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           crop=crop, stride=stride, results=results), f,
                      indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
