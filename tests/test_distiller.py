import copy
import os.path as osp

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STUDENT_ARCH = dict(embed_dims=32, num_layers=3, num_heads=2,
                    feedforward_channels=64)
LARGE_ARCH = dict(embed_dims=48, num_layers=4, num_heads=2,
                  feedforward_channels=96)


def teacher_file(tmp_path, arch, name, seed):
    torch.manual_seed(seed)
    teacher = MODELS.build(dict(type='DINOv2', arch=arch, img_size=56,
                                out_indices=1))
    path = str(tmp_path / name)
    torch.save(teacher.state_dict(), path)
    return path


def distiller_cfg(tmp_path, **overrides):
    large = teacher_file(tmp_path, LARGE_ARCH, 'large.pth', 1)
    base = teacher_file(tmp_path, STUDENT_ARCH, 'base.pth', 2)
    norm_cfg = dict(type='BN')
    cfg = dict(
        type='DualTeacherDistiller',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[128] * 3,
                               std=[64] * 3, size=(56, 56)),
        backbone=dict(type='DINOv2', arch=STUDENT_ARCH, img_size=56,
                      out_indices=(0, 1, 2)),
        neck=dict(type='CAFM', in_channels=32, num_inputs=3,
                  branch_channels=(48, 32), out_channels=32,
                  norm_cfg=norm_cfg),
        decode_head=dict(
            type='LipschitzHead', in_channels=32, in_index=0,
            decoder_channels=(16, 8), num_classes=2, out_channels=1,
            threshold=0.5, norm_cfg=norm_cfg,
            loss_decode=[dict(type='CrossEntropyLoss', use_sigmoid=True,
                              class_weight=[4.0]),
                         dict(type='BinaryDiceLoss')]),
        teachers=[
            dict(backbone=dict(type='DINOv2', arch=LARGE_ARCH, img_size=56,
                               out_indices=(1, 2, 3), frozen=True,
                               init_cfg=dict(type='Pretrained',
                                             checkpoint=large)),
                 teacher_layers=(1, 2, 3), student_layers=(0, 1, 2),
                 weight=0.6),
            dict(backbone=dict(type='DINOv2', arch=STUDENT_ARCH, img_size=56,
                               out_indices=(0, 1, 2), frozen=True,
                               init_cfg=dict(type='Pretrained',
                                             checkpoint=base)),
                 teacher_layers=(0, 1, 2), student_layers=(0, 1, 2),
                 weight=0.4),
        ],
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    cfg.update(overrides)
    return cfg


def build(cfg):
    model = MODELS.build(ConfigDict(copy.deepcopy(cfg)))
    model.init_weights()
    return model


def batch(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 255, (3, 56, 56), generator=g).float()
              for _ in range(n)]
    samples = []
    for _ in range(n):
        s = SegDataSample(gt_sem_seg=PixelData(
            data=(torch.rand(1, 56, 56, generator=g) > 0.9).long()))
        s.set_metainfo(dict(img_shape=(56, 56), ori_shape=(56, 56),
                            pad_shape=(56, 56)))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def optim(model, lr=1e-3):
    return OptimWrapper(torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=lr))


def test_gradients_reach_student_only_and_teachers_stay_fixed(tmp_path):
    model = build(distiller_cfg(tmp_path))
    model.train()
    assert all(not t.training for t in model.teachers)
    before = copy.deepcopy(model.teachers.state_dict())
    data = model.data_preprocessor(batch(), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_distill_t0', 'loss_distill_t1', 'decode.loss_gp'} <= set(
        losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.layers[0].attn.qkv.weight.grad.abs().sum() > 0
    # All three layer projections into the large teacher's space are used.
    for conv in model.neck.projections[0]:
        assert conv.conv.weight.grad.abs().sum() > 0
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad
               for p in model.teachers.parameters())
    wrapper = optim(model)
    for step in range(3):
        model.train_step(batch(seed=step), wrapper)
    after = model.teachers.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_no_teacher_runs_outside_training(tmp_path):
    model = build(distiller_cfg(tmp_path))
    calls = []
    for teacher in model.teachers:
        teacher.register_forward_hook(lambda *a: calls.append(1))
    model.eval()
    model.val_step(batch())
    model.test_step(batch())
    data = model.data_preprocessor(batch(), False)
    model.predict(data['inputs'], data['data_samples'])
    model._forward(data['inputs'], data['data_samples'])
    model.test_cfg = ConfigDict(mode='slide', crop_size=(28, 28),
                                stride=(20, 20))
    model.test_step(batch())
    assert calls == []
    model.train()
    model.train_step(batch(), optim(model))
    assert len(calls) == 2


def test_centres_are_buffers_updated_in_training_only(tmp_path):
    model = build(distiller_cfg(tmp_path))
    model.eval()
    model.test_step(batch())
    assert all(torch.count_nonzero(b) == 0 for b in model.teacher_centers
               .buffers())
    model.train()
    data = model.data_preprocessor(batch(), True)
    with torch.no_grad():
        teacher_maps = model.teacher_features(data['inputs'])
    model.loss(data['inputs'], data['data_samples'])
    # First update from zero: 0.9 * 0 + 0.1 * batch mean.
    expected = 0.1 * teacher_maps[0][2].mean(dim=(0, 2, 3))
    assert torch.allclose(model.teacher_centers.t0_l2, expected, atol=1e-6)
    state = model.state_dict()
    assert 'teacher_centers.t0_l2' in state
    assert not any(k.startswith('teachers.') for k in state)
    fresh = build(distiller_cfg(tmp_path))
    fresh.load_state_dict(state, strict=True)
    assert torch.equal(fresh.teacher_centers.t0_l2,
                       model.teacher_centers.t0_l2)


def test_distillation_transfers_to_unseen_inputs(tmp_path):
    cfg = distiller_cfg(tmp_path, seg_weight=0.0, distill_weight=1.0,
                        distill_loss=dict(type='CosineDistillLoss'),
                        center_momentum=0.0)
    model = build(cfg)
    held_out = model.data_preprocessor(batch(n=4, seed=100), False)['inputs']

    def agreement():
        model.eval()
        with torch.no_grad():
            _, projections = model.neck(model.backbone(held_out),
                                        return_projections=True)
            teacher = model.teacher_features(held_out)[0][2]
            student = projections[0][2]
            return torch.nn.functional.cosine_similarity(
                student - student.mean((0, 2, 3), keepdim=True),
                teacher - teacher.mean((0, 2, 3), keepdim=True),
                dim=1).mean().item()

    start = agreement()
    wrapper = optim(model, lr=3e-3)
    model.train()
    for step in range(150):
        model.train_step(batch(seed=step), wrapper)
    end = agreement()
    print(f'held-out cosine similarity {start:.3f} -> {end:.3f}')
    assert end > start + 0.3


def test_bad_configurations(tmp_path):
    cfg = distiller_cfg(tmp_path)
    missing = copy.deepcopy(cfg)
    missing['teachers'][0]['backbone']['init_cfg']['checkpoint'] = str(
        tmp_path / 'absent_large.pth')
    with pytest.raises(FileNotFoundError, match='absent_large.pth'):
        build(missing)
    wrong = copy.deepcopy(cfg)
    wrong['teachers'][1]['backbone']['init_cfg']['checkpoint'] = \
        cfg['teachers'][0]['backbone']['init_cfg']['checkpoint']
    with pytest.raises(KeyError, match='large.pth'):
        build(wrong)
    layer = copy.deepcopy(cfg)
    layer['teachers'][0]['student_layers'] = (0, 1, 5)
    with pytest.raises(ValueError, match=r'student layers \[5\]'):
        build(layer)
    random_init = copy.deepcopy(cfg)
    random_init['teachers'][0]['backbone'].pop('init_cfg')
    with pytest.raises(ValueError, match='teacher 0 has no pretrained'):
        build(random_init)
    width = copy.deepcopy(cfg)
    width['neck']['branch_channels'] = (40, 32)
    with pytest.raises(ValueError, match='teacher 0 has 48 channels'):
        build(width)
