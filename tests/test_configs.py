"""Every top-level config builds and trains one iteration at a tiny size,
and heads/necks/backbones swap against MMSeg's by config alone."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SIZE = 64
TINY_VIT = dict(embed_dims=32, num_layers=12, num_heads=2,
                feedforward_channels=32)
TINY_VIT_L = dict(embed_dims=48, num_layers=24, num_heads=2,
                  feedforward_channels=32)


def shrink(cfg):
    """Tiny widths, no pretrained files; layer indices stay as configured.

    Teachers get DINOv2 stand-ins of the same depth and a smaller width
    (the neck's branches follow); the student keeps its depth too.
    """
    model = copy.deepcopy(cfg.model)
    model.pop('pretrained', None)
    model.data_preprocessor.size = (SIZE, SIZE)
    widths = {}

    def tiny_dinov2(backbone):
        arch = backbone.arch
        deep = arch == 'dinov2_vitl14' or (isinstance(arch, dict)
                                           and arch['num_layers'] == 24)
        backbone.arch = copy.deepcopy(TINY_VIT_L if deep else TINY_VIT)
        backbone.init_cfg = None
        backbone.img_size = SIZE
        return backbone.arch['embed_dims']

    if model.backbone.type == 'DINOv2':
        width = tiny_dinov2(model.backbone)
        for key in ('neck', 'decode_head', 'auxiliary_head'):
            part = model.get(key)
            if part and 'in_channels' in part:
                part.in_channels = width if isinstance(
                    part.in_channels, int) else [width] * len(
                        part.in_channels)
        if model.get('neck') and model.neck.type == 'MultiLevelNeck':
            model.neck.out_channels = width
            model.decode_head.in_channels = [width] * 4
    else:
        model.backbone.pop('init_cfg', None)
    for k, teacher in enumerate(model.get('teachers', {}).values()):
        widths[k] = tiny_dinov2(teacher.backbone)
        teacher.allow_random_init = True
    if widths:
        model.neck.branch_channels = [widths[k] for k in sorted(widths)]
        model.neck.out_channels = 32
        model.decode_head.in_channels = 32
        model.decode_head.decoder_channels = (16, 8)
    if model.get('neck') is None and model.decode_head.type == \
            'LipschitzHead':
        model.decode_head.decoder_channels = (16, 8)
    elif model.decode_head.type == 'LipschitzHead' and not widths:
        model.neck.branch_channels = [48, 32]
        model.neck.out_channels = 32
        model.decode_head.in_channels = 32
        model.decode_head.decoder_channels = (16, 8)
    return model


def train_one_step(model_cfg):
    model = MODELS.build(ConfigDict(model_cfg))
    model.init_weights()
    model.train()
    samples = []
    for _ in range(2):
        s = SegDataSample(gt_sem_seg=PixelData(
            data=(torch.rand(1, SIZE, SIZE) > 0.9).long()))
        s.set_metainfo(dict(img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE),
                            ori_shape=(SIZE, SIZE)))
        samples.append(s)
    data = dict(inputs=[torch.randint(0, 255, (3, SIZE, SIZE),
                                      dtype=torch.uint8) for _ in range(2)],
                data_samples=samples)
    wrapper = OptimWrapper(torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4))
    log_vars = model.train_step(data, wrapper)
    assert torch.isfinite(log_vars['loss'])
    model.eval()
    result = model.test_step(data)[0]
    assert result.pred_sem_seg.data.shape[-2:] == (SIZE, SIZE)
    return log_vars


CONFIGS = sorted(
    c for c in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in c)


@pytest.mark.parametrize('config', CONFIGS,
                         ids=lambda c: osp.relpath(c, REPO))
def test_config_trains_one_iteration(config):
    log_vars = train_one_step(shrink(Config.fromfile(config)))
    if 'teachers' in Config.fromfile(config).model:
        assert 'loss_distill_t0' in log_vars


def cross_entropy_losses(node):
    """Every CrossEntropyLoss dict anywhere in a config tree."""
    if isinstance(node, dict):
        found = [node] if node.get('type') == 'CrossEntropyLoss' else []
        return found + [loss for value in node.values()
                        for loss in cross_entropy_losses(value)]
    if isinstance(node, (list, tuple)):
        return [loss for value in node for loss in cross_entropy_losses(value)]
    return []


@pytest.mark.parametrize('config', CONFIGS,
                         ids=lambda c: osp.relpath(c, REPO))
def test_cross_entropy_ignores_padding_in_its_mean(config):
    # Padding (255) in a rescaled crop must not count in the BCE's mean.
    losses = cross_entropy_losses(Config.fromfile(config).model.to_dict())
    assert losses, config
    assert all(loss.get('avg_non_ignore') for loss in losses), losses


BASE = osp.join(REPO, 'configs', 'demo',
                'crackdino-student_vit-t4_synthetic-224x224.py')
HEADS = {
    'LipschitzHead': None,
    'FCNHead': dict(type='FCNHead', in_channels=64, in_index=0, channels=32,
                    num_convs=1, concat_input=False),
    'UPerHead': dict(type='UPerHead', in_channels=[64, 64, 64],
                     in_index=[0, 1, 2], pool_scales=(1, 2, 3), channels=32),
    'SegformerHead': dict(type='SegformerHead', in_channels=[64, 64, 64],
                          in_index=[0, 1, 2], channels=32),
}


@pytest.mark.parametrize('neck', ['CAFM', None])
@pytest.mark.parametrize('head', list(HEADS))
def test_heads_and_necks_swap_by_config(head, neck):
    model = copy.deepcopy(Config.fromfile(BASE).model)
    model.data_preprocessor.size = (SIZE, SIZE)
    model.backbone.img_size = SIZE
    if neck is None:
        model.neck = None
    else:  # a fusion neck of all three levels, one branch
        model.neck = dict(type='CAFM', in_channels=64, num_inputs=3,
                          branch_channels=(64, ), out_channels=64,
                          fuse_indices=(0, 1, 2))
    if HEADS[head] is not None:
        new = dict(HEADS[head], num_classes=2, out_channels=1,
                   threshold=0.5, norm_cfg=dict(type='BN'),
                   loss_decode=model.decode_head.loss_decode)
        if neck is not None and head != 'FCNHead':
            # after fusion there is a single level
            new.update(in_channels=64, in_index=0)
            if head == 'UPerHead':
                new.update(in_channels=[64], in_index=[0])
            if head == 'SegformerHead':
                new.update(in_channels=[64], in_index=[0])
        model.decode_head = new
    else:
        model.decode_head.in_index = -1
    train_one_step(model)
