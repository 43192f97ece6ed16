"""Distillation losses against independent formulations (torch's kl_div,
cosine_similarity, mse_loss) and their edge cases."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS


def maps(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def per_position(x):
    """(N, C, H, W) -> (N * H * W, C): one row per position."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


@pytest.mark.parametrize('temperature', [1.0, 3.0])
def test_channel_kl_is_kl_of_teacher_to_student_per_position(temperature):
    student, teacher = maps(2, 8, 3, 5, seed=0), maps(2, 8, 3, 5, seed=1)
    loss = MODELS.build(dict(type='ChannelKLDistillLoss',
                             temperature=temperature))(student, teacher)
    t = temperature
    # KL(teacher || student) with every position as one sample.
    expected = F.kl_div(
        F.log_softmax(per_position(F.normalize(student, dim=1)) / t, dim=1),
        F.softmax(per_position(F.normalize(teacher, dim=1)) / t, dim=1),
        reduction='batchmean') * t * t
    assert torch.allclose(loss, expected, rtol=1e-5)


def test_channel_kl_batchmean_sums_positions_as_the_reference():
    student, teacher = maps(2, 8, 3, 5, seed=0), maps(2, 8, 3, 5, seed=1)
    loss = MODELS.build(dict(type='ChannelKLDistillLoss', temperature=3.0,
                             reduction='batchmean'))(student, teacher)
    expected = F.kl_div(
        F.log_softmax(F.normalize(student, dim=1) / 3, dim=1),
        F.softmax(F.normalize(teacher, dim=1) / 3, dim=1),
        reduction='batchmean') * 9
    assert torch.allclose(loss, expected, rtol=1e-5)
    mean = MODELS.build(dict(type='ChannelKLDistillLoss',
                             temperature=3.0))(student, teacher)
    assert torch.allclose(loss, mean * 3 * 5, rtol=1e-5)


def test_channel_kl_is_asymmetric_and_ignores_feature_scale():
    kl = MODELS.build(dict(type='ChannelKLDistillLoss'))
    student, teacher = maps(1, 8, 4, 4, seed=2), maps(1, 8, 4, 4, seed=3)
    assert kl(student, teacher) > 0
    assert not torch.allclose(kl(student, teacher), kl(teacher, student))
    # L2 normalisation over channels: only the direction counts.
    assert torch.allclose(kl(5 * student, teacher), kl(student, teacher))
    assert kl(3 * teacher, teacher) < 1e-6


@pytest.mark.parametrize('cfg', [
    dict(type='ChannelKLDistillLoss'),
    dict(type='CosineDistillLoss'),
    dict(type='MSEDistillLoss'),
    dict(type='MSEDistillLoss', normalize=False),
])
def test_student_is_resized_to_the_teacher_and_gets_the_gradient(cfg):
    loss_fn = MODELS.build(cfg)
    student = maps(2, 6, 4, 4, seed=4).requires_grad_()
    teacher = maps(2, 6, 8, 8, seed=5)
    loss = loss_fn(student, teacher)
    resized = F.interpolate(student.detach(), size=(8, 8), mode='bilinear',
                            align_corners=False)
    assert torch.allclose(loss, loss_fn(resized, teacher))
    loss.backward()
    assert student.grad.abs().sum() > 0


def test_cosine_and_mse_against_torch():
    student, teacher = maps(2, 6, 3, 3, seed=6), maps(2, 6, 3, 3, seed=7)
    cosine = MODELS.build(dict(type='CosineDistillLoss'))
    assert torch.allclose(
        cosine(student, teacher),
        (1 - F.cosine_similarity(student, teacher, dim=1)).mean())
    assert cosine(2 * teacher, teacher) < 1e-6
    assert torch.allclose(cosine(-teacher, teacher), torch.tensor(2.0))
    mse = MODELS.build(dict(type='MSEDistillLoss'))
    assert torch.allclose(
        mse(student, teacher),
        F.mse_loss(F.normalize(student, dim=1), F.normalize(teacher, dim=1)))
    raw = MODELS.build(dict(type='MSEDistillLoss', normalize=False))
    assert torch.allclose(raw(student, teacher), F.mse_loss(student, teacher))


def test_loss_weight_scales():
    student, teacher = maps(1, 4, 2, 2, seed=8), maps(1, 4, 2, 2, seed=9)
    for name in ('ChannelKLDistillLoss', 'CosineDistillLoss',
                 'MSEDistillLoss'):
        one = MODELS.build(dict(type=name))(student, teacher)
        half = MODELS.build(dict(type=name, loss_weight=0.5))(student, teacher)
        assert torch.allclose(half, 0.5 * one)


def test_bad_inputs_are_named():
    kl = MODELS.build(dict(type='ChannelKLDistillLoss'))
    with pytest.raises(ValueError, match='student map has 4 channels, '
                       'teacher map 6'):
        kl(maps(1, 4, 2, 2), maps(1, 6, 2, 2))
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        kl(maps(4, 2, 2), maps(4, 2, 2))
    with pytest.raises(ValueError, match='same batch'):
        kl(maps(2, 4, 2, 2), maps(1, 4, 2, 2))
    with pytest.raises(ValueError, match='temperature must be > 0'):
        MODELS.build(dict(type='ChannelKLDistillLoss', temperature=0))
    with pytest.raises(ValueError, match="reduction must be 'mean'"):
        MODELS.build(dict(type='ChannelKLDistillLoss', reduction='sum'))


def cosine_over_channels(student, teacher):
    """(1 - cos) / C, averaged over positions."""
    cosine = F.cosine_similarity(student, teacher, dim=1)
    return (1 - cosine).mean() / student.shape[1]


@pytest.mark.parametrize('temperature', [1.0, 3.0, 10.0])
def test_normalised_channel_kl_is_a_scaled_cosine_loss(temperature):
    # Nearby maps, as a student near its teacher: on unit vectors the
    # softmax is nearly uniform, so KL x T^2 ~ (1 - cos) / C whatever T.
    teacher = maps(2, 64, 4, 4, seed=4)
    student = teacher + 0.3 * maps(2, 64, 4, 4, seed=5)
    kl = MODELS.build(dict(type='ChannelKLDistillLoss',
                           temperature=temperature))(student, teacher)
    assert torch.allclose(kl, cosine_over_channels(student, teacher),
                          rtol=0.12)


def test_unnormalised_channel_kl_depends_on_temperature_and_norm():
    teacher = maps(2, 64, 4, 4, seed=4)
    student = teacher + 0.3 * maps(2, 64, 4, 4, seed=5)

    def kl(t, s, tc):
        return MODELS.build(dict(type='ChannelKLDistillLoss', temperature=t,
                                 normalize=False))(s, tc)

    cosine = cosine_over_channels(student, teacher)
    # Unit-variance channels: not the scaled cosine loss at any T.
    for t in (1.0, 3.0, 10.0):
        assert not torch.allclose(kl(t, student, teacher), cosine, rtol=0.5)
    # The temperature does work where the maps are long: at T = 1 the
    # softmax saturates, at T = 10 it does not (x T^2 does not undo it).
    assert kl(10.0, 5 * student, 5 * teacher) > \
        1.5 * kl(1.0, 5 * student, 5 * teacher)
    # So does the features' norm: the same directions, twice the length.
    assert kl(3.0, 2 * student, 2 * teacher) > \
        1.5 * kl(3.0, student, teacher)
    # And it is still a divergence: zero at the teacher.
    assert kl(3.0, teacher, teacher) < 1e-6
