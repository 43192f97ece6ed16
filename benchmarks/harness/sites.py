"""The site-adaptation sources (DeepCrack-trained models, one per training
seed, their kept weights) and the photos of the eight crack sets they are
adapted to, with a cache of their crack probability maps; shared by the
studies that adapt or calibrate on those sites.

A source is named ``NAME`` (training seed 0, the first recorded) or
``NAME@sS`` (training seed S): each is its own model, weights file and
key prefix in the records."""
import functools
import os
import os.path as osp
import time

import cv2
import numpy as np
import torch

from crackdino_mm.apis import (CrackPredictor, deployable_state_dict,
                               init_crack_model)
from crackdino_mm.apis.site_photos import draw_keys, site_keys as keys_of
from crackdino_mm.datasets import binarize_crack_mask
from crackdino_mm.utils import apply_calibration, save_atomically
from harness.records import REPO, relative_text

SITES = ('Crack500', 'GAPs384', 'ShadowCrack', 'AigleRN-TRIMM',
         'SUT-Crack', 'PaveSeg', 'UAV-Crack', 'CeramicTiles')
#: The sites converted by ``tools/dataset_converters`` (PNG masks).
NEW_SITES = SITES[4:]
WORK_DIR = 'work_dirs/site_adaptation'
#: Test photos each site is scored on (a fixed subset, seed 0, or all).
TEST_IMAGES = 300
#: Unlabelled training photos Otsu's label-free threshold pools.
UNLABELLED = 64
WEIGHTS = 'benchmarks/results/crack_transfer_weights'
CPU = 'configs/cpu_benchmark/'
DISTILLER = CPU + 'crackdino_vit-w192d12_1k_deepcrack-224x224.py'
TEACHER_OPTIONS = [
    f'model.teachers.teacher_large.backbone.init_cfg.checkpoint={WEIGHTS}/'
    'teacher_large.pth',
    f'model.teachers.teacher_base.backbone.init_cfg.checkpoint={WEIGHTS}/'
    'teacher_base.pth'
]
#: name: (config, cfg-options of its training, whether it has the
#: teachers' projections and so can distil on site photos; the student
#: alone fuses block 11 only)
SOURCES = {
    'student_plain': (
        CPU + 'crackdino-student-plainhead_vit-w192d12_1k_deepcrack-'
        '224x224.py',
        [f'model.backbone.init_cfg.checkpoint={WEIGHTS}/teacher_base.pth'],
        False),
    'crackdino': (
        DISTILLER,
        [f'model.backbone.init_cfg.checkpoint={WEIGHTS}/teacher_base.pth'] +
        TEACHER_OPTIONS, True),
    'segformer': (CPU + 'segformer_mit-b0_1k_deepcrack-224x224.py', [],
                  False),
}
KEPT = osp.join(REPO, 'benchmarks', 'results', 'site_adaptation_weights')


def source_name(source, seed):
    """The name of a source trained with ``seed`` (seed 0 keeps the bare
    name of the first records)."""
    return source if not seed else f'{source}@s{seed}'


def source_parts(name):
    """(source, training seed) of a source's name; the error names the
    known sources."""
    source, _, seed = name.partition('@s')
    if source not in SOURCES or (seed and not seed.isdigit()):
        raise ValueError(f'{name!r}: expected NAME or NAME@sSEED with NAME '
                         f'one of {", ".join(SOURCES)}')
    return source, int(seed or 0)


def source_config(name):
    """The config of a source (any seed)."""
    return SOURCES[source_parts(name)[0]][0]


def source_checkpoint(name):
    """A source's trained weights: kept in the repository (weights and
    meta only) once trained, so that later sittings adapt the same model."""
    kept = osp.join(KEPT, name + '.pth')
    return kept if osp.isfile(kept) else osp.join(REPO, WORK_DIR, name,
                                                  'iter_1000.pth')


def keep_source(name):
    """Copy a trained source's student weights (a distiller's without its
    teachers, which are kept already) and meta, its paths relative, into
    the repository."""
    path = osp.join(REPO, WORK_DIR, name, 'iter_1000.pth')
    trained = torch.load(path, map_location='cpu', weights_only=False)
    save_atomically(dict(meta=relative_text(trained.get('meta', {})),
                         state_dict=deployable_state_dict(trained, path)),
                    osp.join(KEPT, name + '.pth'))


def site_keys(site, split, args):
    root = osp.join(REPO, args.crack_sets_root, site)
    return keys_of(osp.join(root, f'{split}_img'),
                   osp.join(root, f'{split}_lab'))


def test_keys(site, args):
    keys = site_keys(site, 'test', args)
    return draw_keys(keys, min(TEST_IMAGES, len(keys)), 0, site)


def draw(site, k, d, args):
    """The keys ``tools/adapt.py --k k --seed d`` labels, and the
    ``UNLABELLED`` photos of draw d that Otsu's threshold pools."""
    keys = site_keys(site, 'train', args)
    labelled = draw_keys(keys, k, d, site) if k else []
    return labelled, draw_keys(keys, min(UNLABELLED, len(keys)), d, site)


@functools.lru_cache(maxsize=None)
def _folder_index(folder):
    """{key: [file names]} of a folder, read once."""
    index = {}
    for name in sorted(os.listdir(folder)):
        if not name.startswith('.'):
            index.setdefault(osp.splitext(name)[0], []).append(name)
    return index


def photo_file(folder, key):
    """The one file of ``folder`` whose name is ``key`` with any
    extension (the sites hold .jpg and .png photos and masks)."""
    found = _folder_index(folder).get(key, [])
    if len(found) != 1:
        raise FileNotFoundError(f'{folder}: expected one file named {key}.*'
                                f', found {found or "none"}')
    return osp.join(folder, found[0])


def read_photo(site, split, key, args):
    """A photo (BGR) and its labels (0/1, 255 ignored) by key."""
    root = osp.join(REPO, args.crack_sets_root, site)
    img = cv2.imread(photo_file(osp.join(root, f'{split}_img'), key))
    path = photo_file(osp.join(root, f'{split}_lab'), key)
    return img, binarize_crack_mask(cv2.imread(path, cv2.IMREAD_UNCHANGED),
                                    path)


class MapCache:
    """Crack probability maps of one source's model, one file per photo
    and scale (float16, with the seconds its prediction took)."""

    def __init__(self, source, args):
        self.source, self.args = source, args
        self.model = None

    def _model(self):
        if self.model is None:
            self.model = init_crack_model(
                osp.join(REPO, source_config(self.source)),
                source_checkpoint(self.source))
        return self.model

    def get(self, site, split, key, scale):
        path = osp.join(REPO, WORK_DIR, 'maps', self.source, site, split,
                        f's{scale}', key + '.npz')
        if not osp.isfile(path):
            model = self._model()
            apply_calibration(model, scale=scale)
            img, _ = read_photo(site, split, key, self.args)
            tic = time.perf_counter()
            prob = CrackPredictor(model).probability(img)
            seconds = time.perf_counter() - tic
            os.makedirs(osp.dirname(path), exist_ok=True)
            partial = f'{path}.{os.getpid()}.tmp.npz'
            np.savez(partial, prob=prob.astype(np.float16), seconds=seconds)
            os.replace(partial, path)
        data = np.load(path)
        return data['prob'].astype(np.float32), float(data['seconds'])
