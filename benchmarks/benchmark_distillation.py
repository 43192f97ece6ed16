"""Training-step cost of dual-teacher distillation against the student alone.

    python benchmarks/benchmark_distillation.py [--batch 2] [--size 224]
        [--student small] [--teachers base small] [--steps 5] [--threads 2]

Architectures: ``tiny`` (ViT-Ti sized: 192 wide, 12 blocks), ``small``,
``base``, ``large``, ``giant`` (DINOv2's), random weights. Each
configuration runs in a fresh subprocess at equal batch and crop: the
student alone (a plain EncoderDecoder: DINOv2 + CAFM + Lipschitz head) and
the distiller with the given teachers. Reported per configuration:

- median seconds per training step (after one warm-up step);
- peak resident memory of the subprocess (``ru_maxrss``: weights,
  optimizer state, activations and the Python/torch runtime);
- bytes autograd saves for the backward pass in one forward + loss,
  counted with ``torch.autograd.graph.saved_tensors_hooks`` (a tensor saved
  by several operations counts each time).

For the distiller also the teachers' no-grad forward timed on its own and
their weights' size. The teachers cost no more than their forward when the
extra step time is about that forward, the extra autograd memory is only
the distillation loss's (student-side) tensors, and the extra peak memory
is about the teachers' weights plus one transient forward.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from mmengine.config import ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

import crackdino_mm  # noqa: F401  (registers the project's components)

ARCHS = dict(
    tiny=dict(embed_dims=192, num_layers=12, num_heads=3,
              feedforward_channels=768),
    small='small', base='base', large='large', giant='giant')
WIDTHS = dict(tiny=192, small=384, base=768, large=1024, giant=1536)
LAYERS = dict(tiny=(3, 7, 11), small=(3, 7, 11), base=(3, 7, 11),
              large=(7, 15, 23), giant=(9, 19, 39))


def model_cfg(args, distill):
    width = WIDTHS[args.student]
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675,
                               116.28, 103.53], std=[58.395, 57.12, 57.375],
                               bgr_to_rgb=True, size=(args.size, args.size)),
        backbone=dict(type='DINOv2', arch=ARCHS[args.student],
                      out_indices=LAYERS[args.student]),
        # The same neck in both runs: one branch per teacher's width.
        neck=dict(type='CAFM', in_channels=width, num_inputs=3,
                  branch_channels=[WIDTHS[t] for t in args.teachers],
                  out_channels=256),
        decode_head=dict(
            type='LipschitzHead', in_channels=256, in_index=0,
            decoder_channels=(128, 64, 32, 16), num_classes=2,
            out_channels=1, threshold=0.5, norm_cfg=dict(type='BN'),
            loss_decode=[dict(type='CrossEntropyLoss', use_sigmoid=True,
                              class_weight=[4.0]),
                         dict(type='BinaryDiceLoss')]),
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    if distill:
        cfg['type'] = 'DualTeacherDistiller'
        cfg['teachers'] = [
            dict(backbone=dict(type='DINOv2', arch=ARCHS[t],
                               out_indices=LAYERS[t], frozen=True),
                 teacher_layers=LAYERS[t],
                 student_layers=LAYERS[args.student],
                 weight=1.0 / len(args.teachers), allow_random_init=True)
            for t in args.teachers
        ]
    return cfg


def saved_for_backward(function, *args):
    """Bytes autograd saves for the backward pass while ``function`` runs."""
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        function(*args)
    return total


def run_one(args, distill):
    """Runs in the subprocess: time steps, count saved tensors, time the
    teachers alone."""
    register_all_modules()
    torch.set_num_threads(args.threads)
    model = MODELS.build(ConfigDict(model_cfg(args, distill)))
    model.init_weights()
    model.train()
    wrapper = OptimWrapper(torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4))
    size = (args.size, args.size)
    data = dict(
        inputs=[torch.randint(0, 255, (3, *size), dtype=torch.uint8)
                for _ in range(args.batch)],
        data_samples=[SegDataSample(
            gt_sem_seg=PixelData(data=(torch.rand(1, *size) > 0.97).long()),
            metainfo=dict(img_shape=size, pad_shape=size, ori_shape=size))
            for _ in range(args.batch)])
    times = []
    for step in range(args.steps + 1):
        start = time.perf_counter()
        model.train_step(data, wrapper)
        if step:  # the first step warms up
            times.append(time.perf_counter() - start)
    packed = model.data_preprocessor(data, True)
    inputs = packed['inputs']
    result = dict(step=statistics.median(times), saved_mib=saved_for_backward(
        model.loss, inputs, packed['data_samples']) / 2**20)
    if distill:
        result['teachers_saved_mib'] = saved_for_backward(
            model.teacher_features, inputs) / 2**20
        teacher_times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            model.teacher_features(inputs)
            teacher_times.append(time.perf_counter() - start)
        result['teachers'] = statistics.median(teacher_times)
        result['teacher_weights_mib'] = sum(
            p.numel() * p.element_size()
            for p in model.teachers.parameters()) / 2**20
    result['peak_rss_mib'] = resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--student', default='small', choices=ARCHS)
    parser.add_argument('--teachers', nargs='+', default=['base', 'small'],
                        choices=ARCHS)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--child', choices=['student', 'distill'],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args, args.child == 'distill')
        return
    results = {}
    for name in ('student', 'distill'):
        out = subprocess.run(
            [sys.executable, __file__, '--child', name] + sys.argv[1:],
            check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
    s, d = results['student'], results['distill']
    print(f'batch {args.batch}, {args.size}x{args.size}, student '
          f'{args.student}, teachers {" + ".join(args.teachers)}, '
          f'{args.threads} threads, median of {args.steps} steps')
    print('| run | s/step | peak RSS (MiB) | saved for backward (MiB) |')
    print('|---|---|---|---|')
    for label, r in (('student alone', s), ('distillation', d)):
        print(f'| {label} | {r["step"]:.3f} | {r["peak_rss_mib"]:.0f} | '
              f'{r["saved_mib"]:.1f} |')
    extra = d['step'] - s['step']
    print(f'\nextra time per step: {extra:.3f} s ({extra / s["step"]:.2f} x '
          f'the student step); teachers\' no-grad forward alone: '
          f'{d["teachers"]:.3f} s (extra / forward = '
          f'{extra / d["teachers"]:.2f})')
    print(f'extra peak memory: {d["peak_rss_mib"] - s["peak_rss_mib"]:.0f} '
          f'MiB, of which teacher weights {d["teacher_weights_mib"]:.0f} MiB;'
          f' extra saved for backward: {d["saved_mib"] - s["saved_mib"]:.1f}'
          f' MiB, of which in the teachers\' forward '
          f'{d["teachers_saved_mib"]:.1f} MiB (the rest: the student\'s '
          'projections of the distilled blocks and the distillation loss)')


if __name__ == '__main__':
    main()
