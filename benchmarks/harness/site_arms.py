"""The arms of site adaptation: calibration from cached probability maps
(threshold, scale, label-free Otsu, the oracle ceilings) and runs of
``tools/adapt.py``'s API (norm statistics, fine-tuning, distillation),
each scored on a site's fixed test subset."""
import os.path as osp
import shutil
import time

import numpy as np
from mmengine.config import Config

from crackdino_mm.apis import adapt_to_site, init_crack_model, map_scores
from crackdino_mm.apis.site_calibration import site_probabilities
from crackdino_mm.utils import SCALE_GRID
from harness.records import REPO
from harness.sites import (DISTILLER, TEACHER_OPTIONS, WORK_DIR, draw,
                           read_photo, source_checkpoint, source_config,
                           test_keys)

FINETUNE_ITERS = 100
#: As long in wall time as ``finetune_distill``'s 100 steps (mean 273 s
#: against 76 s for 100 steps of ``finetune``: full method, k = 10).
LONG_FINETUNE_ITERS = 360
CALIBRATION_ARMS = ('none', 'label_free_otsu', 'threshold',
                    'threshold_scale', 'oracle_threshold',
                    'oracle_threshold_scale')
ADAPT_ARMS = ('label_free_norm', 'finetune', 'finetune_distill',
              'finetune_long')
#: Arms that only a source with the teachers runs.
TEACHER_ARMS = ('finetune_distill', 'finetune_long')
ARMS = CALIBRATION_ARMS[:2] + ADAPT_ARMS[:1] + CALIBRATION_ARMS[2:4] + \
    ADAPT_ARMS[1:] + CALIBRATION_ARMS[4:]
LABEL_FREE = ('none', 'label_free_otsu', 'label_free_norm',
              'oracle_threshold', 'oracle_threshold_scale')
#: Thresholds the k photos choose among (evenly spaced in (0, 1)): the
#: tool's grid (steps of 0.01) first, then a coarser candidate (0.05),
#: recorded inside the threshold arms' records as ``grid<N>``.
THRESHOLD_GRIDS = (99, 19)


def otsu_threshold(probs):
    """Otsu's threshold on the pooled crack probabilities (100 bins)."""
    hist = sum(np.histogram(p, bins=100, range=(0, 1))[0] for p in probs)
    centres = (np.arange(100) + 0.5) / 100
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * centres)
    total, total_mean = weight[-1], mean[-1]
    between = (total_mean * weight - mean * total) ** 2 / np.maximum(
        weight * (total - weight), 1e-12)
    return float(np.clip(centres[int(np.argmax(between[:-1]))] + 0.005,
                         0.01, 0.99))


def scores(probs, labels, threshold):
    m = map_scores(probs, labels, threshold)
    return dict(iou=m['crack_iou'], f1=m['crack_f1'], ods=m['ods'],
                ods_threshold=m['ods_threshold'])


def calibration_arms(cache, site, args):
    """Every calibration arm of one source and site, for every k and
    draw, from the cached maps."""
    tests = test_keys(site, args)
    labels = [read_photo(site, 'test', key, args)[1] for key in tests]
    test = {s: [cache.get(site, 'test', key, s)[0] for key in tests]
            for s in SCALE_GRID}
    at = {s: scores(test[s], labels, 0.5) for s in SCALE_GRID}
    out = {}
    oracle_scale = max(SCALE_GRID, key=lambda s: at[s]['ods'])
    for d in range(args.draws):
        out[('none', 0, d)] = dict(at[1.0], threshold=0.5, scale=1.0,
                                   seconds=0.0)
        out[('oracle_threshold', 0, d)] = dict(
            scores(test[1.0], labels, at[1.0]['ods_threshold']),
            threshold=at[1.0]['ods_threshold'], scale=1.0, seconds=0.0)
        out[('oracle_threshold_scale', 0, d)] = dict(
            scores(test[oracle_scale], labels,
                   at[oracle_scale]['ods_threshold']),
            threshold=at[oracle_scale]['ods_threshold'],
            scale=oracle_scale, seconds=0.0)
        _, pool = draw(site, 0, d, args)
        pool_maps = [cache.get(site, 'train', key, 1.0) for key in pool]
        t = otsu_threshold([m for m, _ in pool_maps])
        out[('label_free_otsu', 0, d)] = dict(
            scores(test[1.0], labels, t), threshold=t, scale=1.0,
            seconds=sum(s for _, s in pool_maps))
        for k in args.ks:
            if not k:
                continue
            labelled, _ = draw(site, k, d, args)
            photo_labels = [read_photo(site, 'train', key, args)[1]
                            for key in labelled]
            rows = calibration_table(cache, site, labelled, photo_labels)
            for grid in THRESHOLD_GRIDS:
                found = {arm: dict(scores(test[row['scale']], labels,
                                          row['threshold']), **row)
                         for arm, row in rows[grid].items()}
                if grid == THRESHOLD_GRIDS[0]:
                    for arm, value in found.items():
                        out[(arm, k, d)] = value
                else:
                    for arm, value in found.items():
                        out[(arm, k, d)][f'grid{grid}'] = {
                            key: value[key] for key in (
                                'iou', 'f1', 'threshold', 'scale',
                                'photos_f_chosen')}
    return out


def calibration_table(cache, site, labelled, photo_labels):
    """{grid: {arm: choice}} of the threshold arms on the k photos: the
    ``threshold`` (scale 1) and ``threshold_scale`` of best pooled F, each
    with the photos' F of the choice and of the stored calibration
    (threshold 0.5, scale 1), so that a margin rule can be scored later,
    and the seconds their prediction took."""
    table = {grid: [] for grid in THRESHOLD_GRIDS}
    stored, seconds = None, 0.0
    for s in sorted(SCALE_GRID, key=lambda s: abs(np.log(s))):
        maps = [cache.get(site, 'train', key, s) for key in labelled]
        seconds += sum(t for _, t in maps)
        for grid in THRESHOLD_GRIDS:
            m = map_scores([p for p, _ in maps], photo_labels, 0.5, grid)
            if s == 1.0:
                stored = m['crack_f1']
                scale1_seconds = seconds
            table[grid].append(dict(photos_f_chosen=m['ods'], scale=s,
                                    threshold=m['ods_threshold']))
    out = {}
    for grid, rows in table.items():
        at1 = next(row for row in rows if row['scale'] == 1.0)
        best = max(rows, key=lambda row: row['photos_f_chosen'])
        out[grid] = dict(
            threshold=dict(at1, photos_f_stored=stored,
                           seconds=scale1_seconds),
            threshold_scale=dict(best, photos_f_stored=stored,
                                 seconds=seconds))
    return out


#: The fine-tuning arms calibrate threshold and scale on the k photos
#: whatever their gain (the tool's default before the margin rules).
FINETUNE_CALIBRATION = dict(scales=SCALE_GRID, min_gain=0.0,
                            scale_min_gain=0.0)


def adapt_arm(cache, arm, site, k, d, args):
    """One run of ``tools/adapt.py``'s API, scored on the test subset."""
    config = source_config(cache.source)
    root = osp.join(REPO, args.crack_sets_root, site)
    run_dir = osp.join(REPO, WORK_DIR, 'runs', cache.source, site, arm,
                       f'k{k}_d{d}')
    shutil.rmtree(run_dir, ignore_errors=True)
    distiller = None
    if arm == 'finetune_distill':
        distiller = Config.fromfile(osp.join(REPO, DISTILLER))
        distiller.merge_from_dict(dict(
            option.split('=', 1) for option in TEACHER_OPTIONS))
    labelled = dict(images=osp.join(root, 'train_img'),
                    masks=osp.join(root, 'train_lab'), k=k) if k else {}
    tic = time.perf_counter()
    record = adapt_to_site(
        osp.join(REPO, config), source_checkpoint(cache.source),
        osp.join(run_dir, 'adapted.pth'), seed=d,
        unlabelled=osp.join(root, 'train_img')
        if arm in ('label_free_norm', 'finetune_distill') else None,
        finetune_iters=dict(finetune=FINETUNE_ITERS,
                            finetune_distill=FINETUNE_ITERS,
                            finetune_long=LONG_FINETUNE_ITERS).get(arm, 0),
        norm_stats=arm == 'label_free_norm', distiller_config=distiller,
        work_dir=run_dir, **labelled, **FINETUNE_CALIBRATION)
    seconds = time.perf_counter() - tic
    model = init_crack_model(osp.join(REPO, config),
                             osp.join(run_dir, 'adapted.pth'))
    threshold = float(model.decode_head.threshold)
    scale = float(model.data_preprocessor.test_scale)
    tests = test_keys(site, args)
    photos = [read_photo(site, 'test', key, args) for key in tests]
    probs = site_probabilities(model, [img for img, _ in photos], scale)
    shutil.rmtree(run_dir, ignore_errors=True)
    return dict(scores(probs, [lab for _, lab in photos], threshold),
                threshold=threshold, scale=scale,
                seconds=round(seconds, 1), labelled=record['labelled'])
