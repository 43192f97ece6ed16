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
import copy
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner
from tqdm import tqdm

from crackdino_mm.apis import (OneLineParser, apply_calibration,
                               check_output_file, check_output_folder,
                               init_crack_model, scale_argument,
                               seg_logits_probability, threshold_argument)


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


def segmentation_loss(prob: torch.Tensor, labels: torch.Tensor,
                      ignore_index: int = 255) -> torch.Tensor:
    """The attack's objective: binary cross-entropy of the crack
    probability over valid pixels (weighted rather than indexed: no
    device-to-host sync)."""
    valid = (labels != ignore_index).to(prob.dtype)
    target = (labels == 1).to(prob.dtype)
    total = F.binary_cross_entropy(prob, target, weight=valid,
                                   reduction='sum')
    return total / valid.sum().clamp_min(1)


class PixelSpaceAttack:
    """FGSM/PGD on raw pixels, through the model's own preprocessing,
    inference and post-processing (padding, test-time scale)."""

    def __init__(self, model, steps=10, step_size=None, seed=0):
        self.model = model
        self.steps = steps
        self.step_size = step_size
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def device(self) -> torch.device:
        return self.model.data_preprocessor.device

    def probability(self, pixels: torch.Tensor,
                    data_samples) -> torch.Tensor:
        """Crack probability (N, H, W) of the image area, predicted as the
        test predicts it, differentiable in ``pixels``."""
        samples = [sample.clone() for sample in data_samples]
        results = self.model.test_step(
            dict(inputs=list(pixels), data_samples=samples))
        return torch.stack(
            [seg_logits_probability(r.seg_logits.data) for r in results])

    def _gradient(self, pixels, data_samples, labels):
        pixels = pixels.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = segmentation_loss(
                self.probability(pixels, data_samples), labels)
            (grad, ) = torch.autograd.grad(loss, pixels)
        return grad

    def __call__(self, pixels: torch.Tensor, data_samples, eps: float,
                 method: str) -> torch.Tensor:
        """Attacked pixels (float, in [0, 255], within eps of the input),
        on the model's device."""
        clean = pixels.to(self.device).float()
        if eps == 0:
            return clean
        labels = torch.stack([
            s.gt_sem_seg.data[0] for s in data_samples
        ]).long().to(self.device)
        if method == 'fgsm':
            grad = self._gradient(clean, data_samples, labels)
            return (clean + eps * grad.sign()).clamp(0, 255)
        step = self.step_size or 2.5 * eps / self.steps
        noise = torch.rand(clean.shape, generator=self.generator)
        adv = (clean + (2 * noise.to(clean.device) - 1) * eps).clamp(0, 255)
        for _ in range(self.steps):
            grad = self._gradient(adv, data_samples, labels)
            adv = adv + step * grad.sign()
            adv = torch.min(torch.max(adv, clean - eps), clean + eps)
            adv = adv.clamp(0, 255)
        return adv.detach()


def evaluate(model, dataloader, metric_cfg, attack, eps_list, methods,
             limit=None) -> Tuple[Dict[str, Dict[str, float]], Dict[str,
                                                                  list]]:
    """The evaluator of ``metric_cfg`` (CrackMetric) for the clean data and
    each (method, epsilon), and each image's crack counts at the decision
    (image, tp, fp, fn) per run, so that two models attacked on the same
    images can be compared image by image."""
    runs = [('clean', 0.0)] + [(m, e) for m in methods for e in eps_list
                               if e > 0]
    evaluators = {name: Evaluator(copy.deepcopy(metric_cfg)) for name in
                  (f'{m}_eps{e:g}' if e else m for m, e in runs)}
    total = len(dataloader) if limit is None else min(limit, len(dataloader))
    progress = tqdm(total=total * len(runs), desc='attacks', unit='img')
    seen, images = 0, []
    for index, data in enumerate(dataloader):
        if limit is not None and index >= limit:
            break
        pixels = torch.stack(data['inputs'])
        for (method, eps), evaluator in zip(runs, evaluators.values()):
            adv = attack(pixels, data['data_samples'], eps, method)
            with torch.no_grad():
                results = attack.model.test_step(dict(
                    inputs=list(adv),
                    data_samples=[s.clone() for s in data['data_samples']]))
            evaluator.process(results, data)
            progress.update(len(pixels))
        seen += len(pixels)
        images += [osp.basename(s.img_path) for s in data['data_samples']]
    progress.close()
    counts = {name: [dict(image=image, tp=r['tp'], fp=r['fp'], fn=r['fn'])
                     for image, r in zip(images, evaluator.metrics[0].results)
                     if 'scored' not in r]
              for name, evaluator in evaluators.items()}
    metrics = {name: {key.split('/')[-1]: value for key, value in
                      evaluator.evaluate(seen).items()}
               for name, evaluator in evaluators.items()}
    return metrics, counts


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
    results, image_counts = evaluate(model, dataloader, metric_cfg, attack,
                                     args.eps, methods, args.limit)
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
