"""What the students keep of their teachers (the crack-transfer study's
``analyse`` step).

For every trained DeepCrack student, the linear CKA (centred kernel
alignment; Kornblith et al., 2019) between its backbone features and each
teacher's paired-layer features on held-out test images of every test set:
1 means the same representation up to rotation and scale, 0 none in common.
Every student starts from the base teacher's backbone (CKA 1 with it at
the start); distillation should keep CKA higher through fine-tuning, most
of all on the cross-domain sets. Plain students have the same backbone, so
the comparison needs no projection.
"""
import os
import os.path as osp

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from harness.models import build_deployable
from harness.records import REPO

IMAGES_PER_SET = 32
SIZE = 224
# (teacher entry, its config, student layers, teacher layers), as the
# distillers pair them.
TEACHERS = (
    ('teacher_base', 'configs/cpu_benchmark/teacher-b_vit-w192d12_'
     '1k_crack-sets-224x224.py', (3, 7, 11), (3, 7, 11)),
    ('teacher_large', 'configs/cpu_benchmark/teacher-l_vit-w192d24_'
     '1k_crack-sets-224x224.py', (3, 7, 11), (7, 15, 23)),
)


def linear_cka(x, y):
    """Linear CKA of two (samples, features) matrices."""
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    cross = (y.T @ x).pow(2).sum()
    return float(cross / ((x.T @ x).pow(2).sum().sqrt() *
                          (y.T @ y).pow(2).sum().sqrt()))


def held_out_images(root, count=IMAGES_PER_SET, split='test_img'):
    """``count`` images spread evenly over the sorted split folder,
    resized to SIZE x SIZE (BGR uint8)."""
    folder = osp.join(root, split)
    names = sorted(os.listdir(folder))
    picks = [names[i] for i in np.linspace(0, len(names) - 1, count,
                                           dtype=int)]
    images = []
    for name in picks:
        img = cv2.imread(osp.join(folder, name), cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f'cannot read {osp.join(folder, name)}')
        images.append(cv2.resize(img, (SIZE, SIZE),
                                 interpolation=cv2.INTER_AREA))
    return images


def block_features(model, images, layers):
    """Backbone maps of the given blocks as (images x positions, C)."""
    backbone = model.backbone
    positions = [list(backbone.out_indices).index(i) for i in layers]
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
    data = model.data_preprocessor(dict(inputs=list(batch)), False)
    with torch.no_grad():
        outs = backbone(data['inputs'])
    outs = [o[0] if isinstance(o, (list, tuple)) else o for o in outs]
    return [outs[p].permute(0, 2, 3, 1).flatten(0, 2).float()
            for p in positions]


def with_layers(model, layers):
    """Make a DINOv2 backbone return (at least) the given blocks."""
    model.backbone.out_indices = sorted(set(model.backbone.out_indices) |
                                        set(layers))
    return model


def build_teacher(config, weights, layers):
    """A teacher's backbone (with its config's data preprocessor) from its
    kept backbone weights, returning the given blocks."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, config)).model
    cfg.backbone.init_cfg = None
    model = MODELS.build(cfg)
    state = torch.load(osp.join(REPO, weights), map_location='cpu',
                       weights_only=False)['state_dict']
    model.backbone.load_state_dict({
        k[len('backbone.'):]: v.float() for k, v in state.items()
        if k.startswith('backbone.')})
    return with_layers(model.eval(), layers)


class Analyser:
    """Linear CKA of students with both teachers on held-out images of
    every test set; teachers and images are loaded once."""

    def __init__(self, test_roots, source_weights):
        self.images = {s: held_out_images(osp.join(REPO, root))
                       for s, root in test_roots.items()}
        self.teacher_maps = {}
        for name, config, _, layers in TEACHERS:
            teacher = build_teacher(config, source_weights(name), layers)
            for s, images in self.images.items():
                self.teacher_maps[(name, s)] = block_features(
                    teacher, images, layers)

    def __call__(self, config, checkpoint):
        """{test set: {teacher: [CKA per layer pair]}} of one student."""
        student = build_deployable(osp.join(REPO, config),
                                      osp.join(REPO, checkpoint))
        found = {}
        for s, images in self.images.items():
            found[s] = {}
            for name, _, layers, _ in TEACHERS:
                maps = block_features(with_layers(student, layers), images,
                                      layers)
                found[s][name] = [
                    round(linear_cka(a, b), 4)
                    for a, b in zip(maps, self.teacher_maps[(name, s)])]
        return found


def loss_forms(base, large, temperatures=(1.0, 3.0, 10.0)):
    """The distillation loss forms on one pair of real maps (student at
    step 0 = the base teacher, target = the large teacher), both centred
    by the target's mean over images and positions, as the distiller does:
    the normalised channel KL x T^2 at each T against (1 - cos) / C and
    the normalised MSE / 2 (all three equal to first order), and the
    un-normalised KL, which is not."""
    center = large.mean(0, keepdim=True)
    student, teacher = base - center, large - center
    student = student.T[None, :, :, None]  # (1, C, positions, 1)
    teacher = teacher.T[None, :, :, None]
    channels = student.shape[1]
    cosine = F.cosine_similarity(student, teacher, dim=1).mean()
    found = {'(1-cos)/C': float((1 - cosine) / channels),
             'mse_normalised/2': float(MODELS.build(dict(
                 type='MSEDistillLoss'))(student, teacher)) / 2}
    for t in temperatures:
        for normalize in (True, False):
            kl = MODELS.build(dict(type='ChannelKLDistillLoss',
                                   temperature=t, normalize=normalize))
            key = f'kl_T{t:g}' + ('' if normalize else '_raw')
            found[key] = float(kl(student, teacher))
    return {k: round(v, 6) for k, v in found.items()}


def step0_measurements(deepcrack_root, source_weights):
    """On 32 DeepCrack training images: the loss forms per layer pair of
    the student at step 0 (the base teacher) and the large teacher; on the
    32 held-out test images of the ``analyse`` stage: the linear CKA of the
    two teachers, where every student starts."""
    (base_name, base_cfg, base_layers, _), \
        (large_name, large_cfg, _, large_layers) = TEACHERS
    base_model = build_teacher(base_cfg, source_weights(base_name),
                               base_layers)
    large_model = build_teacher(large_cfg, source_weights(large_name),
                                large_layers)
    pairs = [f'{b}-{lg}' for b, lg in zip(base_layers, large_layers)]
    found = dict(images=f'{deepcrack_root}/train_img and test_img, '
                 f'{IMAGES_PER_SET} evenly spaced each')
    for split, key in (('train_img', 'loss_forms'),
                       ('test_img', 'start_cka_with_large')):
        images = held_out_images(osp.join(REPO, deepcrack_root),
                                 split=split)
        base = block_features(base_model, images, base_layers)
        large = block_features(large_model, images, large_layers)
        measure = loss_forms if key == 'loss_forms' else \
            (lambda b, lg: round(linear_cka(b, lg), 4))
        found[key] = {p: measure(b, lg)
                      for p, b, lg in zip(pairs, base, large)}
    return found
