"""Strength of distillation: its gradient on the student backbone against
the segmentation gradient, per distillation loss.

    python benchmarks/distill_grad_ratio.py [CONFIG] [--size 224]
        [--batch 2] [--repeats 3]

Builds the config's distiller with random weights (teachers included),
runs one training forward on random images with about 3 % crack labels and
prints ``||d distill / d backbone|| / ||d seg / d backbone||`` (mean and
spread over ``--repeats`` random models) for the config's distillation
loss and for each loss below at ``loss_weight=1``. The ratio is linear in
the loss weight, so ``target / ratio`` is the weight that gives a loss the
target strength. The reference recipe (channel KL, T = 3, KL summed over
the 16x16 positions of a 224 input) is the ``batchmean`` row.
"""
import argparse
import statistics

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import crackdino_mm  # noqa: F401  (registers the project's components)
from harness.models import synthetic_batch

VARIANTS = {
    'channel-kl (mean over positions)':
    dict(type='ChannelKLDistillLoss', temperature=3.0),
    'channel-kl (batchmean, reference)':
    dict(type='ChannelKLDistillLoss', temperature=3.0,
         reduction='batchmean'),
    'cosine': dict(type='CosineDistillLoss'),
    'mse (normalised)': dict(type='MSEDistillLoss'),
}


def ratio(model_cfg, distill_loss, args, seed):
    torch.manual_seed(seed)
    cfg = dict(model_cfg, distill_loss=distill_loss, grad_ratio_interval=1)
    cfg['teachers'] = {name: dict(t, allow_random_init=True)
                       for name, t in cfg['teachers'].items()}
    for teacher in cfg['teachers'].values():
        teacher['backbone'] = dict(teacher['backbone'], init_cfg=None)
    cfg['backbone'] = dict(cfg['backbone'], init_cfg=None)
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(
        synthetic_batch(args.batch, args.size, np.random.default_rng(seed)),
        True)
    losses = model.loss(data['inputs'], data['data_samples'])
    return float(losses['distill_grad_ratio'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?',
                        default='configs/crackdino_deepcrack.py')
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    init_default_scope('mmseg')
    model_cfg = Config.fromfile(args.config).model.to_dict()
    model_cfg['data_preprocessor']['size'] = (args.size, args.size)
    variants = dict({'config': model_cfg['distill_loss']}, **VARIANTS)
    print(f'{args.config} at {args.size}x{args.size}, batch {args.batch}, '
          f'{args.repeats} random models')
    for name, loss in variants.items():
        values = [ratio(model_cfg, loss, args, seed)
                  for seed in range(args.repeats)]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f'{name:36s} {statistics.mean(values):.5f} '
              f'+- {spread:.5f}  ({loss})', flush=True)


if __name__ == '__main__':
    main()
