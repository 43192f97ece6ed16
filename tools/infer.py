"""Segment cracks in photos and measure them.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] \
        [--out-dir work_dirs/infer] [--mm-per-pixel 0.1] [--threshold T] \
        [--scale S] [--min-length 20] [--width-limits 0.2 0.4] \
        [--crop-size 448 --stride 336] [--device cuda] [--batch-size 8]

INPUT is an image, a folder (its images, not recursive) or a glob pattern.
Outputs keep the photos' folders: a photo's path relative to the inputs'
common root (the deepest folder holding them all) names its outputs, so
``dirA/IMG_1.jpg`` and ``dirB/IMG_1.jpg`` give ``masks/dirA/IMG_1.png`` and
``masks/dirB/IMG_1.png``. For each image the tool writes
``masks/<path>.png`` (0/255), ``overlays/<path>.jpg`` (cracks painted over
the photo; pieces left out by --min-length/--min-area grey and dashed),
one row of measurements (crack area, skeleton length, mean and maximum
width, number of cracks; each column named with its unit, ``length_px`` or
``length_mm``, ``area_px2`` or ``area_mm2``) to ``measurements.csv`` and
``measurements.json``; one row per crack (box, length, mean/median/maximum
width and where it is largest, orientation, width class) to ``cracks.csv``
and ``cracks.json``; and ``index.html``, an inspection report to open in a
browser. The config decides how a photo is predicted (whole, or sliding
windows; see CrackPredictor), the checkpoint its decision threshold and
test-time scale (tools/choose_threshold.py); --threshold and --scale win.
Unreadable, empty, truncated or partly corrupt files are listed in the
report and on stderr, are not measured, do not stop the others, and make
the return code 1. An --out-dir that is a file, or the folder of the
photos themselves, is refused before the model loads (return code 2).
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
from tqdm import tqdm

from crackdino_mm.apis import (IMAGE_SUFFIXES, CrackPredictor, OneLineParser,
                               check_output_folder, init_crack_model,
                               scale_argument, threshold_argument)
from crackdino_mm.inspection import (MEASURED_AS, InspectionReport,
                                     check_width_limits, measure_each_crack,
                                     overlay_mask, read_photo)
from crackdino_mm.inspection.visualization import mark_dropped


def parse_args(argv=None):
    parser = OneLineParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('inputs', nargs='+', help='images, folders or globs')
    parser.add_argument(
        '--out-dir', default='work_dirs/infer',
        help='outputs, in the inputs\' folders relative to their common root')
    parser.add_argument(
        '--threshold', type=threshold_argument,
        help='crack probability above which a pixel is a crack (default: '
        'the checkpoint\'s, from tools/choose_threshold.py, else the '
        'config\'s decode_head.threshold)')
    parser.add_argument(
        '--scale', type=scale_argument,
        help='test-time scale of the photos (default: the checkpoint\'s, '
        'else 1)')
    parser.add_argument(
        '--crop-size', type=int,
        help='slide windows of this size over every photo (default: the '
        'config\'s test_cfg, see CrackPredictor)')
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
        '--min-area', type=int, default=0, metavar='PX',
        help='leave out predicted pieces smaller than this many pixels')
    parser.add_argument(
        '--min-length', type=float, default=0, metavar='PX',
        help='leave out predicted pieces shorter than this many pixels '
        '(skeleton length; pixels even with --mm-per-pixel)')
    parser.add_argument(
        '--width-limits', type=float, nargs='+', default=[], metavar='MM',
        help='increasing crack widths in mm (e.g. 0.2 0.4) that sort the '
        'cracks into classes by their maximum width; needs --mm-per-pixel')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args(argv)
    if args.stride and args.crop_size and args.stride > args.crop_size:
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
    """Expand files, folders and globs; a FileNotFoundError names the first
    input that is missing or holds no image."""
    files = []
    for item in inputs:
        if osp.isdir(item):
            found = sorted(
                osp.join(item, name) for name in os.listdir(item)
                if name.lower().endswith(IMAGE_SUFFIXES))
            if not found:
                raise FileNotFoundError(
                    f'{item}: folder holds no image (no file ending in '
                    f'{", ".join(IMAGE_SUFFIXES)})')
        elif osp.isfile(item):
            found = [item]
        else:
            found = sorted(
                path for path in glob.glob(item, recursive=True)
                if osp.isfile(path))
            if not found:
                raise FileNotFoundError(f'{item}: does not exist')
        files += found
    return list(dict.fromkeys(files))


def output_names(images):
    """Each image's output name: its path relative to the images' common
    root, without extension (with it, ``.`` as ``_``, where two images
    would otherwise share a name)."""
    paths = [osp.abspath(path) for path in images]
    root = osp.commonpath([osp.dirname(path) for path in paths])
    stems = [osp.splitext(osp.relpath(path, root))[0] for path in paths]
    names = []
    for path, stem in zip(paths, stems):
        if stems.count(stem) > 1:
            stem = osp.relpath(path, root).replace('.', '_')
        names.append(stem.replace(os.sep, '/'))
    return names


def paint_overlay(img, mask, dropped, band=256):
    """Cracks over the photo, band by band of rows (float copies stay the
    size of a band), then the unmeasured pieces."""
    out = np.empty_like(img)
    for y in range(0, img.shape[0], band):
        out[y:y + band] = overlay_mask(img[y:y + band], mask[y:y + band])
    return mark_dropped(out, dropped) if dropped.any() else out


def save(path, img):
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img):
        raise OSError(f'could not write {path}')


def segment(img, name, predictor, args):
    """Predict and measure one photo and write its mask and overlay; what
    the report records of it (overlay, its file, the mask file, cracks)."""
    mask = predictor.mask(img)
    mask_file = osp.join(args.out_dir, 'masks', name + '.png')
    overlay_file = osp.join(args.out_dir, 'overlays', name + '.jpg')
    save(mask_file, mask * 255)
    cracks = measure_each_crack(mask, args.mm_per_pixel, args.min_area,
                                args.min_length)
    overlay = paint_overlay(img, mask & ~cracks.dropped, cracks.dropped)
    save(overlay_file, overlay)
    return overlay, overlay_file, mask_file, cracks


def main(argv=None):
    args = parse_args(argv)
    try:
        images = collect_images(args.inputs)
        check_output_folder(args.out_dir, '--out-dir',
                            sorted({osp.dirname(path) or '.'
                                    for path in images}))
    except (FileNotFoundError, ValueError) as e:
        print(f'infer.py: {e}', file=sys.stderr)
        return 2
    model = init_crack_model(args.config, args.checkpoint, args.device,
                             threshold=args.threshold, scale=args.scale)
    predictor = CrackPredictor(model, args.crop_size, args.stride,
                               args.batch_size, args.max_whole_pixels)
    unit = 'px' if args.mm_per_pixel is None else 'mm'
    settings = dict(checkpoint=args.checkpoint, threshold=predictor.threshold,
                    scale=predictor.scale, mm_per_pixel=args.mm_per_pixel,
                    min_area__px=args.min_area or None,
                    min_length__px=args.min_length or None)
    rows, failures = [], []
    with InspectionReport(args.out_dir, unit, args.width_limits,
                          settings) as report:
        progress = tqdm(list(zip(images, output_names(images))),
                        desc='images', unit='img')
        for path, name in progress:
            img, problem = read_photo(path)
            if img is None:
                failures.append(dict(image=path, reason=problem))
                report.add_unreadable(path, problem)
                continue
            overlay, overlay_file, mask_file, cracks = segment(
                img, name, predictor, args)
            report.add_photo(path, overlay, overlay_file, mask_file, cracks,
                             name)
            del overlay
            rows.append(dict(image=path, height=img.shape[0],
                             width=img.shape[1],
                             **cracks.summary().as_columns()))
            progress.set_postfix(cracks=len(cracks))

    if rows:
        with open(osp.join(args.out_dir, 'measurements.csv'), 'w',
                  newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    with open(osp.join(args.out_dir, 'measurements.json'), 'w') as f:
        json.dump(dict(threshold=predictor.threshold, scale=predictor.scale,
                       unit=unit, measured_as=MEASURED_AS, images=rows,
                       unreadable=failures),
                  f, indent=2)
    print(f'{len(rows)} image(s) segmented into {args.out_dir}; '
          f'report: {report.index}')
    if failures:
        print('not measured (unreadable, empty, truncated or corrupt):\n' +
              '\n'.join(f'  {f["image"]}: {f["reason"]}' for f in failures),
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
