"""DINOv2 backbone forward speed against this machine's matmul rate.

    python benchmarks/benchmark_backbone.py [--archs small base] [--size 448]
        [--threads 2] [--repeats 5]

For each arch (random weights, eval, no grad, fp32, batch 1): median seconds
per image, multiply-accumulates from mmengine's FLOP counter (MACs; FLOPs =
2 x MACs), and the achieved FLOP rate as a fraction of a large fp32 matmul's
rate measured in the same run with the same threads. The machine may be
shared and noisy: compare figures from one run only.
"""
import argparse
import statistics
import time

import torch
from mmengine.analysis import FlopAnalyzer

import crackdino_mm  # noqa: F401
from mmseg.registry import MODELS


def median_seconds(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_flops_per_second(n=2048, repeats=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    seconds = median_seconds(lambda: a @ b, repeats)
    return 2 * n**3 / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--archs', nargs='+', default=['small', 'base'])
    parser.add_argument('--size', type=int, default=448)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    peak = matmul_flops_per_second()
    print(f'fp32 matmul 2048x2048, {args.threads} threads: '
          f'{peak / 1e9:.1f} GFLOP/s')
    print('| arch | s/image | GMACs | GFLOPs | GFLOP/s | of matmul rate |')
    print('|---|---|---|---|---|---|')
    for arch in args.archs:
        model = MODELS.build(dict(type='DINOv2', arch=arch,
                                  out_indices=4)).eval()
        x = torch.randn(1, 3, args.size, args.size)
        with torch.no_grad():
            macs = FlopAnalyzer(model, (x, )).total()
            seconds = median_seconds(lambda: model(x), args.repeats)
        rate = 2 * macs / seconds
        print(f'| {arch} | {seconds:.3f} | {macs / 1e9:.1f} | '
              f'{2 * macs / 1e9:.1f} | {rate / 1e9:.1f} | '
              f'{100 * rate / peak:.0f} % |')
    after = matmul_flops_per_second()
    print(f'fp32 matmul again at the end: {after / 1e9:.1f} GFLOP/s')


if __name__ == '__main__':
    main()
