"""Crack metrics of a model under FGSM/PGD attacks made in pixel space, and
the plain (clean) evaluation they are compared with; ``tools/robustness.py``
and the benchmarks evaluate through here."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.evaluator import Evaluator
from tqdm import tqdm

from ..utils import seg_logits_probability


def segmentation_loss(prob: torch.Tensor, labels: torch.Tensor,
                      ignore_index: int = 255) -> torch.Tensor:
    """The attack's objective: binary cross-entropy of the crack
    probability over valid pixels (weighted rather than indexed: no
    device-to-host sync).

    Args:
        prob (torch.Tensor): Crack probabilities (N, H, W).
        labels (torch.Tensor): 0/1 labels (N, H, W), ``ignore_index``
            left out.
        ignore_index (int): Label of ignored pixels.

    Returns:
        torch.Tensor: The mean cross-entropy over valid pixels.
    """
    valid = (labels != ignore_index).to(prob.dtype)
    target = (labels == 1).to(prob.dtype)
    total = F.binary_cross_entropy(prob, target, weight=valid,
                                   reduction='sum')
    return total / valid.sum().clamp_min(1)


class PixelSpaceAttack:
    """FGSM/PGD on raw 0-255 pixels, through the model's own preprocessing,
    inference and post-processing (padding, test-time scale).

    The perturbation is bounded by epsilon in L-infinity and the attacked
    image is clamped to [0, 255]: a valid image. PGD starts from a uniform
    random point in the epsilon ball and takes ``steps`` signed-gradient
    steps of ``step_size`` (default 2.5 * eps / steps), maximising
    :func:`segmentation_loss` against the ground truth.

    Args:
        model: A segmentor in eval mode.
        steps (int): PGD steps.
        step_size (float, optional): PGD step in pixel units.
        seed (int): Seed of PGD's random start.
    """

    def __init__(self, model, steps: int = 10,
                 step_size: Optional[float] = None, seed: int = 0):
        self.model = model
        self.steps = steps
        self.step_size = step_size
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def device(self) -> torch.device:
        """The device the model's preprocessor puts inputs on."""
        return self.model.data_preprocessor.device

    def probability(self, pixels: torch.Tensor,
                    data_samples) -> torch.Tensor:
        """Crack probability of the image area, predicted as the test
        predicts it, differentiable in ``pixels``.

        Args:
            pixels (torch.Tensor): (N, C, H, W) images in 0-255 pixels.
            data_samples (list[SegDataSample]): Their samples (cloned, not
                changed).

        Returns:
            torch.Tensor: (N, H, W) crack probabilities.
        """
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
        """Attack a batch.

        Args:
            pixels (torch.Tensor): Raw images (N, 3, H, W), 0-255.
            data_samples: Their data samples, with ``gt_sem_seg``.
            eps (float): L-infinity budget in pixel units (0: clean).
            method (str): ``'fgsm'`` or ``'pgd'``.

        Returns:
            torch.Tensor: Attacked pixels (float, in [0, 255], within eps
            of the input), on the model's device.
        """
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


def evaluate_attacks(
        model, dataloader, metric_cfg: dict,
        attack: Optional[PixelSpaceAttack] = None,
        eps_list: Sequence[float] = (), methods: Sequence[str] = (),
        limit: Optional[int] = None, progress: bool = True
) -> Tuple[Dict[str, Dict[str, float]], Dict[str, List[dict]]]:
    """Score the clean data and each (method, epsilon) attack.

    Args:
        model: A segmentor in eval mode.
        dataloader: The test data (raw pixels and ground truth).
        metric_cfg (dict): The evaluator's metric (``CrackMetric``).
        attack (PixelSpaceAttack, optional): Needed when an epsilon > 0
            is given.
        eps_list (Sequence[float]): Budgets; 0 is the clean run, which is
            always scored.
        methods (Sequence[str]): ``'fgsm'`` and/or ``'pgd'``.
        limit (int, optional): Score only the first ``limit`` batches.
        progress (bool): Show a bar over the images and runs.

    Returns:
        tuple: The metrics of each run (``clean``, ``pgd_eps8``, ...), and
        each image's crack counts at the decision (image, tp, fp, fn) per
        run, so that two models attacked on the same images can be
        compared image by image.
    """
    runs = [('clean', 0.0)] + [(m, e) for m in methods for e in eps_list
                               if e > 0]
    evaluators = {name: Evaluator(copy.deepcopy(metric_cfg)) for name in
                  (f'{m}_eps{e:g}' if e else m for m, e in runs)}
    total = len(dataloader) if limit is None else min(limit, len(dataloader))
    bar = tqdm(total=total * len(runs), desc='attacks', unit='img',
               disable=not progress)
    seen, images = 0, []
    for index, data in enumerate(dataloader):
        if limit is not None and index >= limit:
            break
        for (method, eps), evaluator in zip(runs, evaluators.values()):
            inputs = data['inputs'] if not eps else list(attack(
                torch.stack(data['inputs']), data['data_samples'], eps,
                method))
            with torch.no_grad():
                results = model.test_step(dict(
                    inputs=inputs,
                    data_samples=[s.clone() for s in data['data_samples']]))
            evaluator.process(results, data)
            bar.update(len(inputs))
        seen += len(data['inputs'])
        images += [osp.basename(s.img_path) for s in data['data_samples']]
    bar.close()
    counts = {name: [dict(image=image, tp=r['tp'], fp=r['fp'], fn=r['fn'])
                     for image, r in zip(images, evaluator.metrics[0].results)
                     if 'scored' not in r]
              for name, evaluator in evaluators.items()}
    metrics = {name: {key.split('/')[-1]: value for key, value in
                      evaluator.evaluate(seen).items()}
               for name, evaluator in evaluators.items()}
    return metrics, counts
