"""Segment cracks in photos and measure them.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] \
        [--out-dir work_dirs/infer] [--mm-per-pixel 0.1] [--threshold T] \
        [--min-length 20] [--width-limits 0.1 0.3] \
        [--crop-size 448 --stride 336] [--device cuda] [--batch-size 8]

INPUT is an image, a folder (its images, not recursive) or a glob pattern.
For each image the tool writes ``masks/<name>.png`` (0/255),
``overlays/<name>.jpg`` (prediction painted over the photo), and one row of
measurements (crack area, skeleton length, mean and maximum width, number of
connected cracks; millimetres when ``--mm-per-pixel`` is given) to
``measurements.csv`` and ``measurements.json``; one row per crack (box,
length, mean/median/maximum width and where it is largest, orientation,
width class) to ``cracks.csv`` and ``cracks.json``; and ``index.html``, an
inspection report to open in a browser. The config decides how a
photo is predicted (``test_cfg``: whole, or sliding windows of its crop
and stride; large photos are always slid, so memory stays bounded whatever
the photo's size), the checkpoint its decision threshold (see
tools/choose_threshold.py). Unreadable files are reported at the end and
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
from mmseg.apis import inference_model, init_model
from mmseg.structures import SegDataSample
from tqdm import tqdm

from crackdino_mm.utils import apply_calibration, read_calibration
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
        '--threshold', type=float,
        help='crack probability above which a pixel is a crack (default: '
        'the checkpoint\'s, from tools/choose_threshold.py, else the '
        'config\'s decode_head.threshold)')
    parser.add_argument(
        '--crop-size', type=int,
        help='slide windows of this size over every photo (default: the '
        'config\'s test_cfg, see WindowPlan)')
    parser.add_argument(
        '--stride', type=int, help='sliding-window stride (default: the '
        'config\'s test_cfg.stride, else 3/4 of the crop)')
    parser.add_argument(
        '--max-whole-pixels', type=int,
        help='whole-image configs: photos with more pixels are slid '
        '(default: four training crops)')
    parser.add_argument(
        '--batch-size', type=int,
        help='windows per forward pass (default: 8 on CUDA, 1 on the CPU)')
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
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args(argv)
    if args.threshold is not None and not 0 < args.threshold < 1:
        parser.error(f'--threshold must be in (0, 1), got {args.threshold}')
    if args.stride and args.crop_size and args.stride > args.crop_size:
        parser.error('--stride larger than --crop-size leaves gaps')
    if args.batch_size is None:
        args.batch_size = 8 if args.device.startswith('cuda') else 1
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


def window_logits(model, windows):
    """Logits (N, C, h, w) of same-sized BGR windows in one forward pass:
    the model's own preprocessing and whole-image inference, with the
    padding its preprocessor may add removed as MMSeg's postprocessing
    does."""
    height, width = windows[0].shape[:2]
    meta = dict(ori_shape=(height, width), img_shape=(height, width),
                pad_shape=(height, width))
    data = model.data_preprocessor(dict(
        inputs=[torch.from_numpy(np.ascontiguousarray(w.transpose(2, 0, 1)))
                for w in windows],
        data_samples=[SegDataSample(metainfo=meta) for _ in windows]), False)
    metas = [sample.metainfo for sample in data['data_samples']]
    with torch.no_grad():
        logits = model.whole_inference(data['inputs'], metas)
    left, right, top, bottom = metas[0].get(
        'img_padding_size', metas[0].get('padding_size', [0] * 4))
    return logits[:, :, top:logits.shape[2] - bottom,
                  left:logits.shape[3] - right]


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


def probability_of_logits(logits):
    """Crack probability (H, W) of a (C, H, W) float32 logit map, in place
    for one channel (sigmoid), by bands of rows for more (softmax)."""
    if logits.shape[0] == 1:
        return torch.from_numpy(logits[0]).sigmoid_().numpy()
    prob = np.empty(logits.shape[1:], np.float32)
    for y in range(0, prob.shape[0], 256):
        prob[y:y + 256] = torch.from_numpy(
            logits[:, y:y + 256]).softmax(dim=0)[1].numpy()
    return prob


def slide_probability(model, img, crop, stride, batch_size):
    """Crack probability of a BGR image by sliding windows.

    Windows are placed and their logits averaged as by MMSeg's slide
    inference, but ``batch_size`` windows go through the model at a time
    and the sum is kept in one float32 map of the image (MMSeg's slide
    inference runs one window per forward pass, holds float copies of the
    whole normalised image and pads every window's logits to a whole-image
    tensor, too much for large photos).
    """
    height, width = img.shape[:2]
    ys = window_starts(height, crop[0], stride[0])
    xs = window_starts(width, crop[1], stride[1])
    corners = [(y, x) for y in ys for x in xs]
    logits = None
    for i in range(0, len(corners), batch_size):
        batch = corners[i:i + batch_size]
        out = window_logits(model, [
            img[y:y + crop[0], x:x + crop[1]] for y, x in batch
        ]).float().cpu().numpy()
        if logits is None:
            logits = np.zeros((out.shape[1], height, width), np.float32)
        for (y, x), window in zip(batch, out):
            logits[:, y:y + crop[0], x:x + crop[1]] += window
    # The windows form a grid: a pixel is covered by the windows over its
    # row times those over its column.
    logits /= coverage(height, ys, crop[0])[:, None]
    logits /= coverage(width, xs, crop[1])
    return probability_of_logits(logits)


class WindowPlan:
    """How tools/infer.py predicts a photo, from the config's ``test_cfg``.

    ``mode='slide'``: windows of its ``crop_size`` every ``stride``.
    ``mode='whole'``: the photo whole, through MMSeg's ``inference_model``
    as ``tools/test.py`` predicts it, when it has at most
    ``max_whole_pixels`` (default four training crops); a larger photo,
    whose whole forward pass would need memory growing with the square of
    its size for a ViT, is slid with the config's training ``crop_size``
    and a stride of 3/4 of it. ``--crop-size``/``--stride`` slide every
    photo with those windows instead.
    """

    def __init__(self, cfg, args):
        test_cfg = cfg.model.get('test_cfg') or {}
        self.mode = test_cfg.get('mode', 'whole')
        if args.crop_size:
            self.mode = 'slide'
            self.crop = (args.crop_size, ) * 2
        elif self.mode == 'slide':
            self.crop = tuple(test_cfg['crop_size'])
        elif cfg.get('crop_size'):
            self.crop = tuple(cfg.crop_size)
        else:
            raise KeyError(
                f'{cfg.filename}: no crop_size for sliding windows over large '
                'photos (neither test_cfg.crop_size nor a top-level '
                'crop_size); give --crop-size')
        if args.stride:
            self.stride = (args.stride, ) * 2
        elif self.mode == 'slide' and not args.crop_size:
            self.stride = tuple(test_cfg['stride'])
        else:
            self.stride = tuple(max(1, c * 3 // 4) for c in self.crop)
        if any(s > c for s, c in zip(self.stride, self.crop)):
            raise ValueError(f'stride {self.stride} larger than the crop '
                             f'{self.crop} leaves gaps')
        self.max_whole_pixels = args.max_whole_pixels or \
            4 * self.crop[0] * self.crop[1]
        self.batch_size = args.batch_size

    def crack_probability(self, model, img):
        """Per-pixel crack probability (H, W) of a BGR image."""
        if self.mode == 'whole' and \
                img.shape[0] * img.shape[1] <= self.max_whole_pixels:
            return CrackMetric.crack_probability(
                inference_model(model, img).seg_logits.data).cpu().numpy()
        return slide_probability(model, img, self.crop, self.stride,
                                 self.batch_size)


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
    args.threshold = apply_calibration(model, read_calibration(
        args.checkpoint)['threshold'] if args.threshold is None else
        args.threshold)['threshold']
    plan = WindowPlan(model.cfg, args)
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
        prob = plan.crack_probability(model, img)
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
