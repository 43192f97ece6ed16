"""Write the synthetic crack dataset to disk in the DeepCrack folder layout.

    python tools/make_synthetic_dataset.py --out data/SyntheticCrack

gives ``train_img/*.jpg``, ``train_lab/*.png``, ``test_img/*.jpg`` and
``test_lab/*.png`` with 0/255 masks, so file-based pipelines (such as the
DeepCrack configs with ``data_root`` pointed here) can be tried without the
real data.
"""
import argparse
import os
import os.path as osp

import cv2
from mmseg.registry import DATASETS

import crackdino_mm.apis  # noqa: F401  registers SyntheticCrackDataset


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-test', type=int, default=237)
    parser.add_argument(
        '--size', type=int, nargs=2, default=(384, 544),
        metavar=('HEIGHT', 'WIDTH'), help='image size (DeepCrack: 384 544)')
    parser.add_argument('--seed', type=int, default=0,
                        help='train split seed; the test split uses seed+1')
    parser.add_argument('--jpeg-quality', type=int, default=95)
    return parser.parse_args()


def write_split(dataset, img_dir, lab_dir, jpeg_quality):
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(lab_dir, exist_ok=True)
    for i in range(len(dataset)):
        img, mask = dataset.render(i)
        stem = f'{i:05d}'
        img_file = osp.join(img_dir, stem + '.jpg')
        lab_file = osp.join(lab_dir, stem + '.png')
        if not cv2.imwrite(img_file, img,
                           [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
            raise OSError(f'could not write {img_file}')
        if not cv2.imwrite(lab_file, mask * 255):
            raise OSError(f'could not write {lab_file}')


def main():
    args = parse_args()
    splits = (('train', args.num_train, args.seed),
              ('test', args.num_test, args.seed + 1))
    for split, count, seed in splits:
        dataset = DATASETS.build(dict(
            type='SyntheticCrackDataset', num_samples=count,
            img_size=tuple(args.size), seed=seed, pipeline=[],
            lazy_init=True))
        dataset.full_init()
        write_split(dataset, osp.join(args.out, f'{split}_img'),
                    osp.join(args.out, f'{split}_lab'), args.jpeg_quality)
        print(f'{split}: {count} images in {args.out}')


if __name__ == '__main__':
    main()
