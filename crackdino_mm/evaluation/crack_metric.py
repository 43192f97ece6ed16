import logging
import os
import os.path as osp
from collections import OrderedDict
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable

from ..utils import seg_logits_probability
from .threshold_choice import best_threshold, counts_above, sweep_thresholds


def _disk(radius: float) -> np.ndarray:
    r = int(np.floor(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (yy * yy + xx * xx <= radius * radius).astype(np.uint8)


def _f_score(precision, recall):
    precision, recall = np.asarray(precision), np.asarray(recall)
    total = precision + recall
    return np.where(total > 0, 2 * precision * recall / np.where(
        total > 0, total, 1), 0.0)


def _ratio(num, den, empty):
    """num / den, with ``empty`` where den is 0."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.where(den > 0, num / np.where(den > 0, den, 1), empty)


@METRICS.register_module()
class CrackMetric(BaseMetric):
    """Crack segmentation metrics as the crack literature reports them.

    At the model's decision (``pred_sem_seg``), counted over the whole
    dataset: crack IoU, background IoU, mIoU, and crack precision, recall
    (= crack pixel accuracy) and F1. From the crack probabilities
    (``seg_logits``: a 1-channel output's sigmoid, which MMSeg stores
    there, or channel 1 of a 2-class softmax),
    over ``num_thresholds`` thresholds evenly spaced in (0, 1): ODS (best
    dataset-level F), OIS (mean over images of each image's best F) and AP
    (sum over the sweep of (R_j - R_j+1) * P_j, thresholds ascending).
    Also the per-image averages of IoU, precision, recall and F1 at the
    decision (what the reference reported), named ``mean_image_*``.

    With ``tolerance`` t > 0, precision counts a predicted crack pixel as
    correct if a ground-truth crack pixel lies within Euclidean distance t,
    and recall counts a ground-truth pixel as found if a predicted pixel
    lies within t (the tolerant matching of crack benchmarks); IoU stays
    exact. The Euclidean neighbourhood is a disk of radius t. Instead of a
    distance transform per threshold, each image costs three dilations:
    the ground truth, the decision, and a grey dilation of the
    probabilities (a crack pixel is recalled at threshold s when the
    largest probability within t exceeds s), so the sweep stays one
    histogram per image whatever the number of thresholds.

    Conventions for empty sets: precision is 1 when nothing is predicted,
    recall is 1 when there is no crack, F = 2PR / (P + R) (0 when both are
    0), and the IoU of an image with neither crack nor prediction is 1.
    Pixels labelled ``ignore_index`` are left out. Results are
    percentages.

    Images without a label (an unlabelled image folder) are not scored:
    the metrics cover the labelled ones, and when none has a label the
    metric says that there is nothing to score and returns no figures.

    Args:
        num_thresholds (int): Thresholds of the probability sweep.
        tolerance (float): Matching tolerance in pixels.
        ignore_index (int): Label of ignored pixels.
        output_dir (str, optional): Write each prediction there as a 0/255
            PNG (``tools/test.py --out``), kept after the test.
        format_only (bool): Only write the predictions to ``output_dir``
            (as MMSeg's ``IoUMetric`` does), score nothing.
    """
    default_prefix = None

    def __init__(self,
                 num_thresholds: int = 99,
                 tolerance: float = 0,
                 ignore_index: int = 255,
                 output_dir: Optional[str] = None,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if num_thresholds < 1:
            raise ValueError(f'num_thresholds must be >= 1, got '
                             f'{num_thresholds}')
        if tolerance < 0:
            raise ValueError(f'tolerance must be >= 0, got {tolerance}')
        self.thresholds = sweep_thresholds(num_thresholds)
        self.tolerance = tolerance
        self.ignore_index = ignore_index
        self.output_dir = output_dir
        self.format_only = format_only
        if format_only and not output_dir:
            raise ValueError('CrackMetric: format_only=True writes the '
                             'predictions to output_dir, which is not set')
        if output_dir:
            os.makedirs(output_dir, exist_ok=True)

    @staticmethod
    def crack_probability(seg_logits: torch.Tensor) -> torch.Tensor:
        """Crack probability from a data sample's (C, H, W) ``seg_logits``."""
        return seg_logits_probability(seg_logits)

    def image_counts(self, prob: np.ndarray, pred: np.ndarray,
                     gt: np.ndarray) -> dict:
        """Everything the metrics need from one image, as small arrays."""
        valid = gt != self.ignore_index
        crack = (gt == 1) & valid
        pred = (pred == 1) & valid
        if self.tolerance > 0:
            disk = _disk(self.tolerance)
            near_crack = cv2.dilate(crack.astype(np.uint8), disk) > 0
            near_pred = cv2.dilate(pred.astype(np.uint8), disk) > 0
            # A crack pixel is found at t if some pixel within the disk
            # has probability > t: a grey dilation of the probabilities.
            masked = np.where(valid, prob, 0).astype(np.float32)
            best_near = cv2.dilate(masked, disk)
        else:
            near_crack, near_pred, best_near = crack, pred, prob
        return dict(
            tp=int((pred & crack).sum()),
            fp=int((pred & ~crack & valid).sum()),
            fn=int((~pred & crack).sum()),
            tn=int((~pred & ~crack & valid).sum()),
            pred_hits=int((pred & near_crack).sum()),
            crack_hits=int((crack & near_pred).sum()),
            num_pred=int(pred.sum()),
            num_crack=int(crack.sum()),
            sweep_pred=counts_above(prob[valid], self.thresholds),
            sweep_pred_hits=counts_above(prob[valid & near_crack],
                                         self.thresholds),
            sweep_crack_hits=counts_above(best_near[crack],
                                          self.thresholds))

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze(0).cpu().numpy()
            if self.output_dir:
                name = osp.splitext(osp.basename(sample['img_path']))[0]
                cv2.imwrite(
                    osp.join(self.output_dir, name + '.png'),
                    pred.astype(np.uint8) * 255)
            # One entry per image, scored or not, so that results gathered
            # from several processes line up with the dataset.
            if self.format_only or 'gt_sem_seg' not in sample:
                self.results.append(dict(scored=False))
                continue
            gt = sample['gt_sem_seg']['data'].squeeze(0).cpu().numpy()
            prob = self.crack_probability(
                sample['seg_logits']['data']).cpu().numpy()
            self.results.append(self.image_counts(prob, pred, gt))

    @staticmethod
    def sweep_precision_recall(results: list) -> tuple:
        """Dataset-level precision and recall at each threshold of the
        sweep, from the ``image_counts`` of scored images."""
        sweep = {
            key: np.sum([r[key] for r in results], axis=0)
            for key in ('sweep_pred', 'sweep_pred_hits', 'sweep_crack_hits')
        }
        num_crack = sum(r['num_crack'] for r in results)
        return (_ratio(sweep['sweep_pred_hits'], sweep['sweep_pred'], 1.0),
                _ratio(sweep['sweep_crack_hits'], num_crack, 1.0))

    def sweep_f(self, results: list) -> np.ndarray:
        """Dataset-level F (0-1) at each threshold of the sweep, from the
        ``image_counts`` of scored images: what ODS is the best of."""
        return _f_score(*self.sweep_precision_recall(results))

    def compute_metrics(self, results: list) -> dict:
        logger = MMLogger.get_current_instance()
        unscored = sum('scored' in r for r in results)
        results = [r for r in results if 'scored' not in r]
        where = f' (predictions in {self.output_dir})' if \
            self.output_dir else ''
        if self.format_only:
            print_log(f'format_only: {unscored} prediction(s) written, '
                      f'nothing scored{where}', logger=logger)
            return {}
        if not results:
            print_log(f'nothing to score: none of the {unscored} image(s) '
                      f'has a label{where}', logger=logger,
                      level=logging.WARNING)
            return {}
        if unscored:
            print_log(f'{unscored} image(s) without a label are not scored',
                      logger=logger, level=logging.WARNING)
        total = {
            key: sum(r[key] for r in results)
            for key in results[0] if not key.startswith('sweep')
        }
        crack_iou = _ratio(total['tp'], total['tp'] + total['fp'] +
                           total['fn'], 1.0)
        background_iou = _ratio(total['tn'], total['tn'] + total['fp'] +
                                total['fn'], 1.0)
        precision = _ratio(total['pred_hits'], total['num_pred'], 1.0)
        recall = _ratio(total['crack_hits'], total['num_crack'], 1.0)

        sweep_precision, sweep_recall = self.sweep_precision_recall(results)
        sweep_f = _f_score(sweep_precision, sweep_recall)
        recall_drop = sweep_recall - np.append(sweep_recall[1:], 0.0)
        ap = float((recall_drop * sweep_precision).sum())

        image_best_f, image_iou, image_p, image_r = [], [], [], []
        for r in results:
            p = _ratio(r['sweep_pred_hits'], r['sweep_pred'], 1.0)
            rc = _ratio(r['sweep_crack_hits'], r['num_crack'], 1.0)
            image_best_f.append(_f_score(p, rc).max())
            image_iou.append(
                _ratio(r['tp'], r['tp'] + r['fp'] + r['fn'], 1.0))
            image_p.append(_ratio(r['pred_hits'], r['num_pred'], 1.0))
            image_r.append(_ratio(r['crack_hits'], r['num_crack'], 1.0))
        image_f = _f_score(image_p, image_r)

        metrics = OrderedDict(
            crack_iou=crack_iou,
            crack_f1=_f_score(precision, recall),
            precision=precision,
            recall=recall,
            background_iou=background_iou,
            miou=(crack_iou + background_iou) / 2,
            ods=sweep_f.max(),
            ois=np.mean(image_best_f),
            ap=ap,
            mean_image_crack_iou=np.mean(image_iou),
            mean_image_f1=np.mean(image_f),
            mean_image_precision=np.mean(image_p),
            mean_image_recall=np.mean(image_r))
        metrics = OrderedDict(
            (key, round(float(value) * 100, 2)) for key, value in
            metrics.items())
        metrics['ods_threshold'] = round(
            float(self.thresholds[best_threshold(sweep_f)]), 3)

        table = PrettyTable(field_names=['metric', 'value'])
        for key, value in metrics.items():
            table.add_row([key, value])
        title = 'crack metrics' + (
            f' (tolerance {self.tolerance} px)' if self.tolerance else '')
        print_log(f'{title}:\n' + table.get_string(), logger=logger)
        return dict(metrics)
