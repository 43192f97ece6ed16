"""Segment cracks in photos and measure them.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] \
        [--out-dir work_dirs/infer] [--threshold 0.5] [--mm-per-pixel 0.1]
        [--min-length 20] [--width-limits 0.1 0.3]

INPUT is an image, a folder (its images, not recursive) or a glob pattern.
For each image the tool writes ``masks/<name>.png`` (0/255),
``overlays/<name>.jpg`` (prediction painted over the photo), and one row of
measurements (crack area, skeleton length, mean and maximum width, number of
connected cracks; millimetres when ``--mm-per-pixel`` is given) to
``measurements.csv`` and ``measurements.json``; one row per crack (box,
length, mean/median/maximum width and where it is largest, orientation,
width class) to ``cracks.csv`` and ``cracks.json``; and ``index.html``, an
inspection report to open in a browser. Images larger than the crop
are segmented with overlapping sliding windows, so memory stays bounded
whatever the photo's size. Unreadable files are reported at the end and
do not stop the others.
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import torch
from mmengine.config import ConfigDict
from mmseg.apis import init_model
from mmseg.structures import SegDataSample
from tqdm import tqdm

from crackdino_mm.evaluation import CrackMetric
from crackdino_mm.quantification import (check_width_limits,
                                         measure_each_crack)
from crackdino_mm.report import InspectionReport, unreadable_reason
from crackdino_mm.visualization import overlay_mask

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('inputs', nargs='+', help='images, folders or globs')
    parser.add_argument('--out-dir', default='work_dirs/infer')
    parser.add_argument(
        '--threshold', type=float, default=0.5,
        help='crack probability above which a pixel is a crack')
    parser.add_argument(
        '--crop-size', type=int, default=448,
        help='sliding-window size (a multiple of 14 suits DINOv2)')
    parser.add_argument(
        '--stride', type=int, default=336, help='sliding-window stride')
    parser.add_argument(
        '--mm-per-pixel', type=float,
        help='ground sampling distance: report millimetres, not pixels')
    parser.add_argument(
        '--min-area', type=int, default=0,
        help='ignore predicted pieces smaller than this many pixels')
    parser.add_argument(
        '--min-length', type=float, default=0,
        help='ignore predicted pieces shorter than this many pixels '
        '(skeleton length)')
    parser.add_argument(
        '--width-limits', type=float, nargs='+', default=[], metavar='MM',
        help='increasing crack widths in mm (e.g. 0.1 0.3) that sort the '
        'cracks into classes by their maximum width; needs --mm-per-pixel')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if not 0 < args.threshold < 1:
        parser.error(f'--threshold must be in (0, 1), got {args.threshold}')
    if args.stride > args.crop_size:
        parser.error('--stride larger than --crop-size leaves gaps')
    if args.mm_per_pixel is not None and args.mm_per_pixel <= 0:
        parser.error(f'--mm-per-pixel must be > 0, got {args.mm_per_pixel}')
    if args.width_limits and args.mm_per_pixel is None:
        parser.error('--width-limits are in mm: give --mm-per-pixel too')
    try:
        check_width_limits(args.width_limits)
    except ValueError as e:
        parser.error(f'--width-limits: {e}')
    return args


def collect_images(inputs):
    """Expand files, folders and globs; fail on an input matching nothing."""
    files, unmatched = [], []
    for item in inputs:
        if osp.isdir(item):
            found = sorted(
                osp.join(item, name) for name in os.listdir(item)
                if name.lower().endswith(IMAGE_SUFFIXES))
        elif osp.isfile(item):
            found = [item]
        else:
            found = sorted(
                path for path in glob.glob(item, recursive=True)
                if osp.isfile(path))
        if not found:
            unmatched.append(item)
        files += found
    if unmatched:
        raise FileNotFoundError(
            'no image found for: ' + ', '.join(unmatched) +
            f' (images are files ending in {", ".join(IMAGE_SUFFIXES)})')
    return list(dict.fromkeys(files))


def window_probability(model, img):
    """Per-pixel crack probability of a BGR image, in one forward pass."""
    height, width = img.shape[:2]
    sample = SegDataSample(
        metainfo=dict(ori_shape=(height, width), img_shape=(height, width),
                      pad_shape=(height, width), scale_factor=(1.0, 1.0)))
    inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    with torch.no_grad():
        result = model.test_step(dict(inputs=[inputs],
                                      data_samples=[sample]))[0]
    return CrackMetric.crack_probability(result.seg_logits.data).cpu().numpy()


def window_starts(size, crop_size, stride):
    """Window starts along one axis, as MMSeg's slide inference places
    them: every ``stride`` pixels, the last window flush with the end."""
    last = max(size - crop_size, 0)
    return [min(start, last) for start in range(0, last + stride, stride)]


def coverage(size, starts, crop_size):
    """How many windows cover each pixel along one axis."""
    covers = np.zeros(size, np.float32)
    for start in starts:
        covers[start:start + crop_size] += 1
    return covers


def crack_probability(model, img, crop_size, stride):
    """Per-pixel crack probability of a BGR image, at the image's size.

    An image larger than the crop is segmented window by window and the
    windows' probabilities are averaged where they overlap. Only a window
    at a time goes through the model and one float32 map of the image is
    kept, so memory grows by 4 bytes per pixel whatever the model predicts
    (MMSeg's slide inference holds float copies of the whole normalised
    image and allocates a whole-image logit map for every window).
    """
    model.test_cfg = ConfigDict(mode='whole')
    height, width = img.shape[:2]
    if max(height, width) <= crop_size:
        return window_probability(model, img)
    ys = window_starts(height, crop_size, stride)
    xs = window_starts(width, crop_size, stride)
    prob = np.zeros((height, width), np.float32)
    for y in ys:
        for x in xs:
            prob[y:y + crop_size, x:x + crop_size] += window_probability(
                model, img[y:y + crop_size, x:x + crop_size])
    # The windows form a grid: a pixel is covered by the windows over its
    # row times those over its column.
    prob /= coverage(height, ys, crop_size)[:, None]
    prob /= coverage(width, xs, crop_size)
    return prob


def paint_overlay(img, mask, band=256):
    """``overlay_mask`` band by band of rows, so its float copies of the
    painted pixels stay the size of a band, not of the photo."""
    out = np.empty_like(img)
    for y in range(0, img.shape[0], band):
        out[y:y + band] = overlay_mask(img[y:y + band], mask[y:y + band])
    return out


def main(argv=None):
    args = parse_args(argv)
    images = collect_images(args.inputs)
    model = init_model(args.config, args.checkpoint, device=args.device)
    for sub in ('masks', 'overlays'):
        os.makedirs(osp.join(args.out_dir, sub), exist_ok=True)

    report = InspectionReport(
        args.out_dir, 'px' if args.mm_per_pixel is None else 'mm',
        args.width_limits, settings=dict(
            checkpoint=args.checkpoint, threshold=args.threshold,
            mm_per_pixel=args.mm_per_pixel, min_area=args.min_area,
            min_length=args.min_length))
    rows, failures = [], []
    progress = tqdm(images, desc='images', unit='img')
    for path in progress:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            failures.append(path)
            report.add_unreadable(path, unreadable_reason(path))
            continue
        prob = crack_probability(model, img, args.crop_size, args.stride)
        mask = (prob > args.threshold).astype(np.uint8)
        del prob
        name = osp.splitext(osp.basename(path))[0]
        mask_file = osp.join(args.out_dir, 'masks', name + '.png')
        overlay_file = osp.join(args.out_dir, 'overlays', name + '.jpg')
        cv2.imwrite(mask_file, mask * 255)
        cracks = measure_each_crack(mask, args.mm_per_pixel, args.min_area,
                                    args.min_length)
        overlay = paint_overlay(img, mask)
        cv2.imwrite(overlay_file, overlay)
        report.add_photo(path, overlay, overlay_file, mask_file, cracks)
        del overlay
        measurements = cracks.summary()
        rows.append(dict(image=path, height=img.shape[0], width=img.shape[1],
                         **measurements.as_dict()))
        progress.set_postfix(cracks=len(cracks))

    if rows:
        with open(osp.join(args.out_dir, 'measurements.csv'), 'w',
                  newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    with open(osp.join(args.out_dir, 'measurements.json'), 'w') as f:
        json.dump(dict(threshold=args.threshold, images=rows,
                       unreadable=failures), f, indent=2, default=float)
    index = report.close()
    print(f'{len(rows)} image(s) segmented into {args.out_dir}; '
          f'report: {index}')
    if failures:
        print('could not read (not an image, or corrupt): ' +
              ', '.join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
