"""Training-step cost of dual-teacher distillation against the student alone.

    python benchmarks/benchmark_distillation.py [--batch 2] [--size 224]
        [--student small] [--teachers large base] [--steps 5] [--threads 2]

Each configuration runs in a fresh subprocess (so peak memory is its own):
the student alone (plain EncoderDecoder: DINOv2 + CAFM + Lipschitz head)
and the distiller with the given teachers (random weights), at equal batch
and crop. Reported: median seconds per training step, peak resident memory
(ru_maxrss of the subprocess), and the teachers' forward time under
no_grad measured on its own; the step-time difference should not exceed
that forward (teachers store no activations and run no backward).
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

WIDTHS = dict(small=384, base=768, large=1024, giant=1536)
LAYERS = dict(small=(3, 7, 11), base=(3, 7, 11), large=(7, 15, 23),
              giant=(9, 19, 39))


def model_cfg(args, distill):
    width = WIDTHS[args.student]
    branches = [WIDTHS[t] for t in args.teachers]
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675,
                               116.28, 103.53], std=[58.395, 57.12, 57.375],
                               bgr_to_rgb=True, size=(args.size, args.size)),
        backbone=dict(type='DINOv2', arch=args.student,
                      out_indices=LAYERS[args.student]),
        neck=dict(type='CAFM', in_channels=width, num_inputs=3,
                  branch_channels=branches, out_channels=256),
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
            dict(backbone=dict(type='DINOv2', arch=t, out_indices=LAYERS[t],
                               frozen=True),
                 teacher_layers=LAYERS[t],
                 student_layers=LAYERS[args.student],
                 weight=1.0 / len(args.teachers), allow_random_init=True)
            for t in args.teachers
        ]
    return cfg


def run_one(args, distill):
    """Runs in the subprocess: time steps, then the teachers alone."""
    import torch
    from mmengine.config import ConfigDict
    from mmengine.optim import OptimWrapper
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules

    import crackdino_mm  # noqa: F401
    register_all_modules()
    torch.set_num_threads(args.threads)
    model = MODELS.build(ConfigDict(model_cfg(args, distill)))
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
    result = dict(step=statistics.median(times))
    if distill:
        inputs = model.data_preprocessor(data, True)['inputs']
        teacher_times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            model.teacher_features(inputs)
            teacher_times.append(time.perf_counter() - start)
        result['teachers'] = statistics.median(teacher_times)
    result['peak_rss_mib'] = resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--student', default='small', choices=WIDTHS)
    parser.add_argument('--teachers', nargs='+', default=['base', 'small'],
                        choices=WIDTHS)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--child', choices=['student', 'distill'])
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
          f'{args.threads} threads')
    print('| run | s/step | peak RSS (MiB) |')
    print('|---|---|---|')
    print(f'| student alone | {s["step"]:.3f} | {s["peak_rss_mib"]:.0f} |')
    print(f'| distillation | {d["step"]:.3f} | {d["peak_rss_mib"]:.0f} |')
    extra = d['step'] - s['step']
    print(f'\nextra time per step: {extra:.3f} s; teachers\' no-grad forward '
          f'alone: {d["teachers"]:.3f} s ({100 * extra / d["step"]:.0f} % of '
          f'the distillation step); extra memory: '
          f'{d["peak_rss_mib"] - s["peak_rss_mib"]:.0f} MiB')


if __name__ == '__main__':
    main()
