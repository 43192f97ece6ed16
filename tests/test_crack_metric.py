"""CrackMetric against a brute-force computation written independently."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from crackdino_mm.apis import map_scores
from crackdino_mm.datasets import binarize_crack_mask
from crackdino_mm.evaluation import CrackMetric


def make_sample(prob, gt, threshold=0.5, two_channel=False):
    if two_channel:  # softmax of (0, l) gives sigmoid(l) on channel 1
        logit = torch.logit(
            torch.from_numpy(prob).double().clamp(1e-9, 1 - 1e-9))
        logits = torch.stack([torch.zeros_like(logit), logit])
    else:  # MMSeg stores a 1-channel output's sigmoid as seg_logits
        logits = torch.from_numpy(prob)[None]
    sample = SegDataSample()
    sample.seg_logits = PixelData(data=logits)
    sample.pred_sem_seg = PixelData(
        data=torch.from_numpy((prob > threshold).astype(np.int64))[None])
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
    sample.set_metainfo(dict(img_path='x.png'))
    return sample.to_dict()


def random_cases(seed):
    rng = np.random.default_rng(seed)
    cases = []
    for shape, crack_rate in [((9, 11), 0.2), ((7, 7), 0.0), ((12, 8), 0.4),
                              ((6, 10), 0.1)]:
        gt = (rng.random(shape) < crack_rate).astype(np.int64)
        gt[rng.random(shape) < 0.05] = 255
        # Probabilities correlated with the truth, rounded off the grid of
        # thresholds so that no value sits exactly on a threshold.
        prob = np.clip(0.6 * (gt == 1) + 0.5 * rng.random(shape), 0, 0.999)
        prob = np.round(prob, 3) + 0.0005
        cases.append((prob, gt))
    return cases


def brute_force(cases, thresholds, tol, decision=0.5):
    def near(mask, y, x):
        ys, xs = np.nonzero(mask)
        return bool(((ys - y)**2 + (xs - x)**2 <= tol * tol).any())

    def pr(prob, gt, t):
        valid = gt != 255
        pred = (prob > t) & valid
        crack = (gt == 1)
        hits_p = sum(near(crack, y, x) for y, x in zip(*np.nonzero(pred)))
        hits_r = sum(near(pred, y, x) for y, x in zip(*np.nonzero(crack)))
        return hits_p, pred.sum(), hits_r, crack.sum()

    def f(p, r):
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def safe(a, b, empty=1.0):
        return a / b if b else empty

    out = {}
    tp = fp = fn = tn = 0
    per_image_iou, per_image_f, best_fs = [], [], []
    hp = npd = hr = nc = 0
    for prob, gt in cases:
        valid = gt != 255
        pred = (prob > decision) & valid
        crack = gt == 1
        a, b = (pred & crack).sum(), (pred & ~crack & valid).sum()
        c, d = (~pred & crack).sum(), (~pred & ~crack & valid).sum()
        tp, fp, fn, tn = tp + a, fp + b, fn + c, tn + d
        per_image_iou.append(safe(a, a + b + c))
        h1, n1, h2, n2 = pr(prob, gt, decision)
        hp, npd, hr, nc = hp + h1, npd + n1, hr + h2, nc + n2
        per_image_f.append(f(safe(h1, n1), safe(h2, n2)))
        best_fs.append(max(
            f(safe(x[0], x[1]), safe(x[2], x[3]))
            for x in (pr(prob, gt, t) for t in thresholds)))
    out['crack_iou'] = safe(tp, tp + fp + fn)
    out['background_iou'] = safe(tn, tn + fp + fn)
    out['precision'], out['recall'] = safe(hp, npd), safe(hr, nc)
    out['crack_f1'] = f(out['precision'], out['recall'])
    ps, rs = [], []
    for t in thresholds:
        sums = np.sum([pr(prob, gt, t) for prob, gt in cases], axis=0)
        ps.append(safe(sums[0], sums[1]))
        rs.append(safe(sums[2], sums[3]))
    out['ods'] = max(f(p, r) for p, r in zip(ps, rs))
    rs_next = rs[1:] + [0.0]
    out['ap'] = sum((r - rn) * p for p, r, rn in zip(ps, rs, rs_next))
    out['ois'] = np.mean(best_fs)
    out['mean_image_crack_iou'] = np.mean(per_image_iou)
    out['mean_image_f1'] = np.mean(per_image_f)
    return out


@pytest.mark.parametrize('tolerance', [0, 1.5, 2])
@pytest.mark.parametrize('two_channel', [False, True])
def test_matches_brute_force(tolerance, two_channel):
    cases = random_cases(seed=int(tolerance * 10) + two_channel)
    metric = CrackMetric(num_thresholds=19, tolerance=tolerance)
    metric.process({}, [make_sample(p, g, two_channel=two_channel)
                        for p, g in cases])
    got = metric.compute_metrics(metric.results)
    expected = brute_force(cases, metric.thresholds, tolerance)
    for key, value in expected.items():
        assert got[key] == pytest.approx(round(100 * value, 2), abs=1e-6), key
    assert got['miou'] == pytest.approx(
        round(100 * (expected['crack_iou'] + expected['background_iou']) / 2,
              2), abs=0.011)


def test_tolerance_forgives_near_misses():
    gt = np.zeros((20, 20), np.int64)
    gt[:, 10] = 1
    prob = np.zeros((20, 20))
    prob[:, 11] = 0.9  # one pixel off
    exact = CrackMetric(num_thresholds=9)
    tolerant = CrackMetric(num_thresholds=9, tolerance=1)
    for metric in (exact, tolerant):
        metric.process({}, [make_sample(prob, gt)])
    exact_r = exact.compute_metrics(exact.results)
    tolerant_r = tolerant.compute_metrics(tolerant.results)
    assert exact_r['crack_f1'] == 0 and exact_r['crack_iou'] == 0
    assert tolerant_r['crack_f1'] == 100 and tolerant_r['ods'] == 100
    assert tolerant_r['crack_iou'] == 0  # IoU stays exact


def test_images_without_cracks():
    metric = CrackMetric(num_thresholds=9)
    empty = np.zeros((8, 8), np.int64)
    # No crack and nothing predicted: perfect; no crack, false alarms: 0.
    metric.process({}, [make_sample(np.full((8, 8), 0.1), empty),
                        make_sample(np.full((8, 8), 0.7), empty)])
    got = metric.compute_metrics(metric.results)
    assert got['mean_image_crack_iou'] == 50.0
    assert got['crack_iou'] == 0.0 and got['recall'] == 100.0
    assert got['precision'] == 0.0
    assert not any(np.isnan(v) for v in got.values())
    assert got['ois'] == 100.0  # at a high threshold both are empty


def test_writes_predictions_for_test_out(tmp_path):
    metric = CrackMetric(output_dir=str(tmp_path / 'pred'))
    gt = np.zeros((5, 6), np.int64)
    prob = np.full((5, 6), 0.2)
    prob[2, 3] = 0.8
    sample = make_sample(prob, gt)
    sample['img_path'] = '/data/img_007.jpg'
    metric.process({}, [sample])
    import cv2
    written = cv2.imread(str(tmp_path / 'pred' / 'img_007.png'), 0)
    assert written[2, 3] == 255 and written.sum() == 255


def test_ignored_mask_pixels_leave_the_scores(tmp_path):
    """A mask's ignore grey reaches the metric as the ignore index: a
    prediction of crack there is neither a false alarm nor a hit."""
    mask = np.zeros((8, 8), np.uint8)
    mask[3, :] = 255
    mask[6:, :] = 128  # e.g. sealed crack: ignored
    cv2.imwrite(str(tmp_path / 'm.png'), mask)
    label = binarize_crack_mask(cv2.imread(str(tmp_path / 'm.png'),
                                           cv2.IMREAD_UNCHANGED))
    prob = np.where((mask == 255) | (mask == 128), 0.9, 0.1)
    got = map_scores([prob], [label], 0.5)
    assert got['crack_iou'] == 100.0 and got['precision'] == 100.0
