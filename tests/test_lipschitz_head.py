import copy

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from crackdino_mm.utils.optimizer_step import ACCUMULATION_KEY


def head_cfg(**kwargs):
    cfg = dict(type='LipschitzHead', in_channels=16, in_index=-1,
               decoder_channels=(16, 8, 8), num_classes=2, out_channels=1,
               threshold=0.5, norm_cfg=dict(type='BN'), dropout_ratio=0.0,
               loss_decode=[
                   dict(type='CrossEntropyLoss', use_sigmoid=True,
                        class_weight=[4.0]),
                   dict(type='BinaryDiceLoss')
               ])
    cfg.update(kwargs)
    return cfg


def crack_batch(batch=4, size=32, seed=0):
    """Features that encode a line, and the line as the label."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((batch, size, size), np.int64)
    for b in range(batch):
        row = rng.integers(4, size - 4)
        labels[b, row - 1:row + 1, :] = 1
    feats = torch.nn.functional.avg_pool2d(
        torch.from_numpy(labels).float()[:, None], 4).repeat(1, 16, 1, 1)
    feats = feats + 0.1 * torch.randn(feats.shape,
                                      generator=torch.Generator()
                                      .manual_seed(seed))
    samples = []
    for b in range(batch):
        s = SegDataSample(gt_sem_seg=PixelData(
            data=torch.from_numpy(labels[b])[None]))
        s.set_metainfo(dict(img_shape=(size, size), pad_shape=(size, size)))
        samples.append(s)
    return [feats], samples


def spectral_norms(head):
    return [torch.linalg.matrix_norm(b.conv.weight.detach().flatten(1), 2)
            for b in head.blocks]


def test_spectral_norm_holds_after_training_and_bound_matches():
    torch.manual_seed(0)  # the power iteration's lag depends on the draw
    head = MODELS.build(head_cfg())
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    for step in range(8):
        feats, samples = crack_batch(seed=step)
        losses = head.loss(feats, samples, None)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    # One power iteration per forward trails each (large) SGD step by a
    # little: sigma is 1 up to that lag.
    assert all(0.97 <= s <= 1.02 for s in spectral_norms(head))
    # Independent bound: sqrt(9) * sigma per conv, BN scales, 2 per upsample,
    # classifier norm.
    expected = 1.0
    for i, block in enumerate(head.blocks):
        w = block.conv.weight.detach().flatten(1)
        expected *= 3 * torch.linalg.svdvals(w)[0].item()
        bn = block.norm
        expected *= (bn.weight.abs() / (bn.running_var + bn.eps).sqrt()).max()
        if i < len(head.blocks) - 1:
            expected *= 2
    expected *= torch.linalg.svdvals(head.conv_seg.weight.flatten(1))[0]
    assert head.lipschitz_bound() == pytest.approx(float(expected), rel=1e-4)
    # The bound really bounds: no input pair violates it.
    x, y = torch.randn(1, 16, 4, 4), torch.randn(1, 16, 4, 4)
    with torch.no_grad():
        ratio = (head.decode(x) - head.decode(y)).norm() / (x - y).norm()
    assert ratio <= head.lipschitz_bound()


def test_without_spectral_norm_layers_are_free():
    head = MODELS.build(head_cfg(spectral_norm=[True, False, True]))
    assert hasattr(head.blocks[0].conv, 'parametrizations')
    assert not hasattr(head.blocks[1].conv, 'parametrizations')


def test_gradient_penalty_trains_the_head():
    head = MODELS.build(head_cfg(gp_weight=1.0, loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.0)))
    head.train()
    feats, samples = crack_batch()
    feats = [feats[0].requires_grad_(True)]
    losses = head.loss(feats, samples, None)
    assert 'loss_gp' in losses and 'gp_grad_norm' in losses
    losses['loss_gp'].backward()
    # create_graph=True is what makes these gradients exist.
    grads = [b.conv.parametrizations.weight.original.grad for b in head.blocks]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    # The penalty is taken on detached features: nothing flows upstream.
    assert feats[0].grad is None


def test_penalty_comes_every_gp_interval_optimizer_steps():
    head = MODELS.build(head_cfg(gp_interval=2))
    head.train()
    feats, samples = crack_batch()
    hub = MessageHub.get_current_instance()
    seen = []
    try:
        hub.update_info(ACCUMULATION_KEY, 2)  # two micro-batches a step
        for iteration in range(6):  # the runner's iteration, as on resume
            hub.update_info('iter', iteration)
            seen.append('loss_gp' in head.loss(feats, samples, None))
    finally:
        for key in (ACCUMULATION_KEY, 'iter'):
            hub.runtime_info.pop(key, None)
    assert seen == [True, True, False, False, True, True]


def test_gradient_penalty_lowers_the_empirical_lipschitz_constant():
    def train(gp_weight):
        torch.manual_seed(0)
        head = MODELS.build(head_cfg(gp_weight=gp_weight, gp_target=0.0,
                                     spectral_norm=False))
        opt = torch.optim.Adam(head.parameters(), lr=1e-2)
        for step in range(40):
            feats, samples = crack_batch(seed=step)
            losses = head.loss(feats, samples, None)
            loss = sum(v for k, v in losses.items() if 'loss' in k)
            opt.zero_grad()
            loss.backward()
            opt.step()
        head.eval()
        torch.manual_seed(1)
        feats, _ = crack_batch(seed=999)
        # The largest per-sample norm (averaged over random projections):
        # what the penalty controls.
        norms = torch.stack([head.input_gradient_norm(feats[0], False)
                             for _ in range(8)])
        return float(norms.mean(0).max())

    free, penalised = train(0.0), train(5.0)
    assert penalised < 0.7 * free


@pytest.mark.parametrize('out_channels,losses', [
    (1, [dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=[4.0]),
         dict(type='BinaryDiceLoss')]),
    (2, [dict(type='CrossEntropyLoss', class_weight=[1.0, 4.0]),
         dict(type='BinaryDiceLoss')]),
])
def test_no_nan_in_200_bf16_steps(out_channels, losses):
    cfg = head_cfg(out_channels=out_channels, loss_decode=losses,
                   gp_interval=2)
    if out_channels == 2:
        cfg.pop('threshold')
    head = MODELS.build(cfg)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
    for step in range(200):
        feats, samples = crack_batch(batch=2, size=16, seed=step)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses_out = head.loss(feats, samples, None)
        loss = sum(v for k, v in losses_out.items() if 'loss' in k)
        assert torch.isfinite(loss), step
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(torch.isfinite(p).all() for p in head.parameters())


def test_binary_dice_targets_the_crack_class():
    dice = MODELS.build(dict(type='BinaryDiceLoss', smooth=0.0))
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, 1] = 1
    target[0, 3, 0] = 255
    perfect = torch.where(target == 1, 20.0, -20.0)[:, None].float()
    assert dice(perfect, target) < 1e-6
    assert dice(-perfect, target) > 0.99
    # Ignored pixels do not count, whatever is predicted there.
    perfect[0, 0, 3, 0] = 20.0
    assert dice(perfect, target) < 1e-6


@pytest.mark.parametrize('one_sided', [True, False])
def test_penalty_is_a_bound_unless_two_sided(one_sided):
    feats, samples = crack_batch()

    def penalty(target):
        torch.manual_seed(0)
        head = MODELS.build(head_cfg(gp_weight=1.0, gp_target=target,
                                     gp_one_sided=one_sided))
        head.train()
        losses = head.loss(feats, samples, None)
        return float(losses['loss_gp']), float(losses['gp_grad_norm'])

    _, norm = penalty(0.0)
    below, _ = penalty(norm * 4)  # the head is far less sensitive
    above, _ = penalty(norm / 4)
    assert above == pytest.approx((norm * 3 / 4)**2, rel=0.05)
    if one_sided:
        assert below == 0.0
    else:
        assert below == pytest.approx((norm * 3)**2, rel=0.05)


def test_bce_is_averaged_over_labelled_pixels_only():
    """Padding labelled 255 changes neither loss of the crack config."""
    from mmengine.config import Config
    import os.path as osp
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '..', 'configs',
                                   '_base_', 'models', 'crack_losses.py'))
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 8, 8, generator=g)
    labels = (torch.rand(2, 8, 8, generator=g) > 0.8).long()
    padded_logits = torch.nn.functional.pad(logits, (0, 8, 0, 8), value=3.0)
    padded_labels = torch.nn.functional.pad(labels, (0, 8, 0, 8), value=255)
    for loss_cfg in cfg.crack_loss:
        loss = MODELS.build(loss_cfg)
        torch.testing.assert_close(
            loss(padded_logits, padded_labels, ignore_index=255),
            loss(logits, labels, ignore_index=255))
