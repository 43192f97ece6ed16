"""Mixed precision, checked on the CPU under bfloat16 autocast (what
AmpOptimWrapper runs on a GPU with ``dtype='bfloat16'``): the gradient
penalty's double backward, spectral normalisation, the distillation losses
and a whole distiller training step stay finite and close to float32."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmseg.registry import MODELS

from test_distiller import batch, build, distiller_cfg

BF16 = dict(device_type='cpu', dtype=torch.bfloat16)


def cosine(a, b):
    return F.cosine_similarity(a.flatten().float(), b.flatten().float(),
                               dim=0).item()


def relative_error(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def lipschitz_head(**overrides):
    cfg = dict(type='LipschitzHead', in_channels=16, in_index=0,
               decoder_channels=(16, 8), num_classes=2, out_channels=1,
               norm_cfg=dict(type='BN'), gp_weight=1.0, dropout_ratio=0.0,
               threshold=0.5,
               loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True))
    cfg.update(overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg).train()


def penalty_and_gradients(head, feats, autocast):
    """The gradient penalty (same random projection) and its gradient with
    respect to every weight of the head: a double backward."""
    torch.manual_seed(1)
    with torch.autocast(**BF16, enabled=autocast):
        norm = head.input_gradient_norm(feats, create_graph=True)
        penalty = ((norm - 0.8)**2).mean()
    params = [p for p in head.parameters() if p.requires_grad]
    # Biases that only shift the logits do not reach the input gradient.
    grads = torch.autograd.grad(penalty, params, allow_unused=True)
    return penalty, torch.cat([
        (torch.zeros_like(p) if g is None else g).flatten()
        for g, p in zip(grads, params)
    ])


def output_dtypes(module):
    """Records the dtype of each output of ``module``."""
    dtypes = []

    def record(_, __, output):
        outputs = output if isinstance(output, (list, tuple)) else [output]
        dtypes.extend(o[0].dtype if isinstance(o, (list, tuple)) else o.dtype
                      for o in outputs)

    module.register_forward_hook(record)
    return dtypes


def test_gradient_penalty_double_backward_under_bf16_autocast():
    head = lipschitz_head()
    feats = torch.randn(2, 16, 8, 8)
    penalty32, grads32 = penalty_and_gradients(copy.deepcopy(head), feats,
                                               autocast=False)
    mixed = copy.deepcopy(head)
    logits = output_dtypes(mixed.conv_seg)
    penalty16, grads16 = penalty_and_gradients(mixed, feats, autocast=True)
    assert logits == [torch.bfloat16]
    assert torch.isfinite(penalty16) and torch.isfinite(grads16).all()
    assert grads32.abs().sum() > 0  # the penalty does train the head
    assert abs(penalty16.item() - penalty32.item()) <= 0.05 * penalty32.item()
    assert cosine(grads16, grads32) > 0.98
    assert relative_error(grads16, grads32) < 0.1


def test_spectral_norm_under_bf16_autocast():
    """Power iterations run under autocast keep float32 vectors and still
    normalise each kernel to spectral norm 1; the head's output is close to
    float32's."""
    head = lipschitz_head()
    feats = torch.randn(2, 16, 8, 8)
    reference = copy.deepcopy(head)
    with torch.autocast(**BF16):
        for _ in range(30):  # power iterations converge in training
            out16 = head([feats])
    for _ in range(30):
        out32 = reference([feats])
    assert out16.dtype == torch.bfloat16
    assert torch.isfinite(out16).all()
    assert relative_error(out16, out32) < 0.05
    for block in head.blocks:
        parametrization = block.conv.parametrizations.weight[0]
        assert parametrization._u.dtype == torch.float32
        assert parametrization._v.dtype == torch.float32
        matrix = block.conv.weight.detach().flatten(1).float()
        assert torch.linalg.matrix_norm(matrix, ord=2).item() == \
            pytest.approx(1.0, abs=0.02)
    head.eval()
    assert torch.isfinite(torch.tensor(head.lipschitz_bound()))


@pytest.mark.parametrize('loss_cfg', [
    dict(type='ChannelKLDistillLoss', temperature=3.0),
    dict(type='CosineDistillLoss'),
    dict(type='MSEDistillLoss', normalize=True),
])
def test_distillation_losses_take_bf16_student_maps(loss_cfg):
    """Under autocast the student's projections come out in bfloat16 and
    the teachers' maps in float32; each loss computes in float32."""
    loss = MODELS.build(loss_cfg)
    torch.manual_seed(0)
    teacher = torch.randn(2, 24, 4, 4)
    student = (teacher + 0.5 * torch.randn_like(teacher)).requires_grad_()
    reference = loss(student, teacher)
    (grad32, ) = torch.autograd.grad(reference, student)
    low = student.detach().bfloat16().requires_grad_()
    with torch.autocast(**BF16):
        value = loss(low, teacher)
    (grad16, ) = torch.autograd.grad(value, low)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert value.item() == pytest.approx(reference.item(), rel=0.02)
    assert grad16.dtype == torch.bfloat16 and torch.isfinite(grad16).all()
    assert cosine(grad16, grad32) > 0.99


@pytest.fixture
def cpu_amp(monkeypatch):
    """AmpOptimWrapper refuses to build without a GPU; on the CPU its
    GradScaler disables itself and its autocast is the CPU's, which is all
    a bfloat16 step needs."""
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)


@pytest.mark.parametrize('teacher_autocast', [False, True])
def test_distiller_training_step_with_amp_optim_wrapper(
        tmp_path, cpu_amp, teacher_autocast):
    """One training step through AmpOptimWrapper(dtype='bfloat16'): the
    student, the teachers (under the same autocast, or their own with
    ``teacher_autocast``), the distillation losses and the gradient
    penalty's double backward. Losses and the SGD update stay finite and
    close to a float32 step from the same weights."""
    model = build(distiller_cfg(tmp_path, teacher_autocast=teacher_autocast))
    model.train()
    twin = copy.deepcopy(model)
    start = [p.detach().clone() for p in model.parameters()
             if p.requires_grad]

    def sgd(module):
        return torch.optim.SGD(
            [p for p in module.parameters() if p.requires_grad], lr=0.1)

    logits = output_dtypes(model.decode_head.conv_seg)
    teacher_linear = next(m for m in model.teachers[0].modules()
                          if isinstance(m, torch.nn.Linear))
    teacher_matmuls = output_dtypes(teacher_linear)
    torch.manual_seed(3)
    mixed = model.train_step(batch(), AmpOptimWrapper(
        optimizer=sgd(model), dtype='bfloat16'))
    torch.manual_seed(3)
    full = twin.train_step(batch(), OptimWrapper(optimizer=sgd(twin)))
    assert 'decode.loss_gp' in mixed and 'loss_distill_t0' in mixed
    assert set(logits) == set(teacher_matmuls) == {torch.bfloat16}
    for name, value in full.items():
        assert torch.isfinite(mixed[name]), name
        assert mixed[name].item() == pytest.approx(
            value.item(), rel=0.05, abs=1e-3), name

    def update(module):
        return torch.cat([(p.detach() - s).flatten() for p, s in zip(
            [p for p in module.parameters() if p.requires_grad], start)])

    assert torch.isfinite(update(model)).all()
    assert cosine(update(model), update(twin)) > 0.95
