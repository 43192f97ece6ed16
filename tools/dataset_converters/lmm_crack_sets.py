"""Build the public crack sets of Lightweight-Modular-Model into the
folder layout of ``CrackFolderDataset``.

The repository ``Omaralmaqtari/Lightweight-Modular-Model`` (MIT licence;
each original set keeps its own terms) ships cropped versions of public
crack sets as ``Datasets/<set>/{train,valid,test}`` image folders with
``*_lab`` mask folders (grey JPEG masks). This writes, for each set,

    OUT/<set>/{train,valid,test}_img/*.jpg
    OUT/<set>/{train,valid,test}_lab/*.jpg

(DeepCrack's layout, so a config switches sets by ``data_root`` alone) and
``OUT/manifest.json`` with the source, its commit and the counts.

Its ``Datasets/DeepCrack`` crops are never built: they include DeepCrack
test images, which would leak the benchmark's test split into training.

    git clone <the repository> lmm
    python tools/dataset_converters/lmm_crack_sets.py --source lmm \
        --out data/crack_sets
"""
import argparse
import json
import os
import os.path as osp
import shutil

from crack_site_sources import source_commit

SOURCE_REPOSITORY = 'Omaralmaqtari/Lightweight-Modular-Model'
SETS = ('Crack500', 'GAPs384', 'ShadowCrack', 'AigleRN-TRIMM')
SPLITS = ('train', 'valid', 'test')
#: Sets in the source that must not be used: they overlap the benchmark.
FORBIDDEN_SETS = ('DeepCrack', )


def plan_split(source, name, split, problems):
    """(image, mask) source paths of one split, every problem listed."""
    img_dir = osp.join(source, 'Datasets', name, split)
    lab_dir = img_dir + '_lab'
    missing = [d for d in (img_dir, lab_dir) if not osp.isdir(d)]
    if missing:
        problems.extend(f'folder {d} does not exist' for d in missing)
        return []
    images = sorted(f for f in os.listdir(img_dir) if not f.startswith('.'))
    masks = set(f for f in os.listdir(lab_dir) if not f.startswith('.'))
    problems.extend(f'image {osp.join(img_dir, f)} has no mask in {lab_dir}'
                    for f in images if f not in masks)
    problems.extend(f'mask {osp.join(lab_dir, f)} has no image in {img_dir}'
                    for f in sorted(masks - set(images)))
    if not images:
        problems.append(f'no image in {img_dir}')
    return [(osp.join(img_dir, f), osp.join(lab_dir, f)) for f in images
            if f in masks]


def build(source, out, sets=SETS):
    """Copy the sets into ``out``; returns the manifest written there."""
    forbidden = [s for s in sets if s in FORBIDDEN_SETS]
    if forbidden:
        raise ValueError(f'{forbidden} must not be built: the source\'s '
                         'DeepCrack crops include DeepCrack test images')
    if not osp.isdir(osp.join(source, 'Datasets')):
        raise FileNotFoundError(
            f'{source} has no Datasets/ folder: give a checkout of '
            f'{SOURCE_REPOSITORY} as --source')
    problems = []
    plan = {(name, split): plan_split(source, name, split, problems)
            for name in sets for split in SPLITS}
    if problems:
        raise ValueError(f'{len(problems)} problem(s) in {source}:\n  ' +
                         '\n  '.join(problems))
    counts = {}
    for (name, split), pairs in plan.items():
        img_out = osp.join(out, name, f'{split}_img')
        lab_out = osp.join(out, name, f'{split}_lab')
        for folder in (img_out, lab_out):
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
        for image, mask in pairs:
            shutil.copyfile(image, osp.join(img_out, osp.basename(image)))
            shutil.copyfile(mask, osp.join(lab_out, osp.basename(mask)))
        counts.setdefault(name, {})[split] = len(pairs)
    manifest = dict(source=SOURCE_REPOSITORY, commit=source_commit(source),
                    excluded=list(FORBIDDEN_SETS), counts=counts)
    with open(osp.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    return manifest


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument('--source', required=True,
                        help=f'a checkout of {SOURCE_REPOSITORY}')
    parser.add_argument('--out', default='data/crack_sets')
    parser.add_argument('--sets', nargs='+', default=list(SETS))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    manifest = build(args.source, args.out, args.sets)
    for name, splits in manifest['counts'].items():
        print(f'{name}: ' + ', '.join(f'{split} {count}'
                                      for split, count in splits.items()))
    print(f'wrote {osp.join(args.out, "manifest.json")}')


if __name__ == '__main__':
    main()
