"""Distillation strength: the calibrated losses keep the reference recipe's
gradient on the student backbone, and the ratio is logged in training."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from script_modules import script_module
from test_distiller import batch, build, distiller_cfg, optim

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CPU_DISTILLER = osp.join(REPO, 'configs', 'cpu_benchmark',
                         'crackdino_vit-w192d12_1k_deepcrack-224x224.py')
# The reference recipe gives 0.33 on the full-size model (see
# configs/_base_/models/crackdino_distiller.py); below a third of that,
# distillation no longer shapes the backbone as the method intends.
MIN_RATIO, MAX_RATIO = 0.11, 1.0


@pytest.fixture(scope='module')
def ratio_tool():
    return script_module('benchmarks/distill_grad_ratio.py')


DEMO_DISTILLER = osp.join(REPO, 'configs', 'demo',
                          'crackdino_vit-t4_500it_synthetic-224x224.py')


@pytest.mark.parametrize('path', [
    CPU_DISTILLER,
    CPU_DISTILLER.replace('crackdino_', 'crackdino-cosine_'),
    CPU_DISTILLER.replace('crackdino_', 'crackdino-mse_'),
    CPU_DISTILLER.replace('crackdino_', 'crackdino-learnedproj-l_'),
    DEMO_DISTILLER
], ids=osp.basename)
def test_small_distillers_are_calibrated(ratio_tool, path):
    init_default_scope('mmseg')
    model_cfg = Config.fromfile(path).model.to_dict()
    args = type('Args', (), dict(batch=2, size=224))
    ratio = ratio_tool.ratio(model_cfg, model_cfg['distill_loss'], args, 0)
    assert MIN_RATIO < ratio < MAX_RATIO, f'{path}: ratio {ratio:.4f}'
    if path == CPU_DISTILLER:  # the loss uncalibrated falls below the bound
        weak = dict(model_cfg['distill_loss'], loss_weight=1.0)
        assert ratio_tool.ratio(model_cfg, weak, args, 0) < MIN_RATIO


def test_full_size_weight_equals_the_reference_sum_at_224():
    """KL averaged over positions x 256 = KL summed over the 16x16
    positions of a 224 input (the reference's batchmean), per image."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'crackdino_deepcrack.py'))
    calibrated = MODELS.build(cfg.model.distill_loss)
    reference = MODELS.build(dict(type='ChannelKLDistillLoss',
                                  temperature=3.0, reduction='batchmean'))
    g = torch.Generator().manual_seed(0)
    student, teacher = (torch.randn(2, 1024, 16, 16, generator=g)
                        for _ in range(2))
    torch.testing.assert_close(calibrated(student, teacher),
                               reference(student, teacher))


def test_ratio_is_logged_at_its_interval_and_not_summed(tmp_path):
    model = build(distiller_cfg(tmp_path, grad_ratio_interval=2))
    model.train()
    wrapper = optim(model)
    # The runner's iteration, published as RuntimeInfoHook does.
    hub = MessageHub.get_current_instance()
    logged = []
    try:
        for i in range(3):
            hub.update_info('iter', i)
            logged.append(model.train_step(batch(seed=i), wrapper))
    finally:
        hub.update_info('iter', 0)
    assert ['distill_grad_ratio' in log for log in logged] == [
        True, False, True]
    log = logged[0]
    assert 0 < float(log['distill_grad_ratio']) < float('inf')
    total = sum(float(v) for k, v in log.items()
                if k != 'loss' and 'loss' in k)
    assert float(log['loss']) == pytest.approx(total, rel=1e-5)


def test_ratio_follows_the_distillation_weight(tmp_path):
    def ratio(weight):
        torch.manual_seed(0)
        model = build(distiller_cfg(tmp_path, distill_weight=weight,
                                    grad_ratio_interval=1))
        model.train()
        data = model.data_preprocessor(batch(), True)
        return float(model.loss(**data)['distill_grad_ratio'])

    assert ratio(0.6) == pytest.approx(2 * ratio(0.3), rel=1e-3)


def test_a_student_that_starts_as_the_base_teacher_gets_nothing_from_it(
        tmp_path):
    """At step 0 only the large teacher acts on such a student: the base
    teacher's loss and its gradient ratio are zero, the large one's not."""
    cfg = distiller_cfg(tmp_path, grad_ratio_interval=1)
    base = str(tmp_path / 'base.pth')  # the base teacher's weights
    cfg['backbone'] = dict(cfg['backbone'], init_cfg=dict(
        type='Pretrained', checkpoint=base))
    model = build(cfg)
    model.train()
    data = model.data_preprocessor(batch(), True)
    losses = model.loss(**data)
    seg = sum(v for n, v in losses.items() if n.startswith('decode.loss')
              and not n.endswith('loss_gp'))
    assert float(losses['loss_distill_t1'].detach()) == pytest.approx(
        0, abs=1e-6)
    assert float(model.backbone_grad_ratio(losses['loss_distill_t1'],
                                           seg)) < 1e-4
    assert float(losses['loss_distill_t0']) > 1e-3
    assert float(model.backbone_grad_ratio(losses['loss_distill_t0'],
                                           seg)) > 1e-3
