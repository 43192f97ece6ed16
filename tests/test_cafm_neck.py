import pytest
import torch
from mmseg.registry import MODELS


def inputs(num, channels=32, size=(6, 7), batch=2):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(batch, channels, *size, generator=g)
            for _ in range(num)]


@pytest.mark.parametrize('branches', [(48, ), (48, 32), (48, 32, 16)])
@pytest.mark.parametrize('fuse_indices', [(-1, ), (0, 2)])
def test_shapes_for_any_number_of_branches(branches, fuse_indices):
    neck = MODELS.build(dict(type='CAFM', in_channels=32, num_inputs=3,
                             branch_channels=branches, out_channels=24,
                             fuse_indices=fuse_indices,
                             projected_inputs=(0, 1, 2)))
    (fused, ) = neck(inputs(3))
    assert fused.shape == (2, 24, 6, 7)
    projections = neck.project(inputs(3))
    assert len(projections) == len(branches)
    for width, branch in zip(branches, projections):
        assert [p.shape[1] for p in branch] == [width] * 3
    # Identity where widths match, a 1x1 projection otherwise.
    for width, modules in zip(branches, neck.projections):
        assert all(isinstance(m, torch.nn.Identity) == (width == 32)
                   for m in modules)


def test_projections_are_affine_so_they_reach_signed_teacher_features():
    neck = MODELS.build(dict(type='CAFM', in_channels=32, num_inputs=1,
                             branch_channels=(48, ), out_channels=24)).eval()
    for module in neck.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
    a, b = inputs(2)
    with torch.no_grad():
        (pa, ), (pb, ), (pmix, ) = (neck.project([x])[0]
                                    for x in (a, b, 0.3 * a + 0.7 * b))
    assert (pa < 0).any()
    assert torch.allclose(pmix, 0.3 * pa + 0.7 * pb, atol=1e-5)


def test_only_fused_inputs_are_projected_unless_distilled():
    cfg = dict(type='CAFM', in_channels=32, num_inputs=3,
               branch_channels=(48, 40), out_channels=16)
    distilled_cfg = MODELS.get('CAFM').distillation_config(cfg, [0, 1])
    assert distilled_cfg['projected_inputs'] == [-1, 0, 1]
    distilled = MODELS.build(distilled_cfg).eval()
    deployable_cfg = MODELS.get('CAFM').deployable_config(distilled_cfg)
    assert deployable_cfg == cfg
    neck = MODELS.build(deployable_cfg)
    # The distilled neck's weights load strictly (the extra projections
    # are skipped), and the fused output is the same.
    neck.load_state_dict(distilled.state_dict(), strict=True)
    assert {k for k in distilled.state_dict() if k not in neck.state_dict()
            } == {k for k in distilled.state_dict()
                  if k.startswith(('projections.0.0.', 'projections.0.1.',
                                   'projections.1.0.', 'projections.1.1.'))}
    x = inputs(3)
    neck.eval()
    assert torch.equal(neck(x)[0], distilled(x)[0])
    # Every parameter gets a gradient from the output alone (DDP needs it).
    neck.train()
    neck(x)[0].sum().backward()
    assert all(p.grad is not None for p in neck.parameters())
    _, projections = neck.forward_with_projections(x)
    assert projections[0][0] is None and projections[1][2] is not None
    with pytest.raises(ValueError, match=r'inputs \[0\] are not projected'):
        neck.project(x, [0])
    with pytest.raises(ValueError, match=r'fused inputs \[2\]'):
        MODELS.build(dict(cfg, projected_inputs=[0, 1]))
    with pytest.raises(ValueError, match='projected input 3 is outside'):
        MODELS.build(dict(cfg, projected_inputs=[2, 3]))


def test_returned_projections_are_the_ones_fused():
    neck = MODELS.build(dict(type='CAFM', in_channels=[32, 32, 40],
                             branch_channels=(48, 40), out_channels=16,
                             projected_inputs=(0, 1, 2)))
    neck.eval()
    x = inputs(2) + [torch.randn(2, 40, 3, 4)]
    (fused, ), projections = neck.forward_with_projections(x)
    assert [p.shape[1] for p in projections[1]] == [40, 40, 40]
    # Fusing the returned projections of the last input reproduces the
    # output, and the maps of another size were resized to the first's.
    refused = neck.fuse([[projections[0][2]], [projections[1][2]]])
    assert torch.allclose(fused, refused)
    assert fused.shape[2:] == (3, 4)
    assert torch.equal(neck(x)[0], fused)
    # A loss on the projections of an unfused input reaches its conv.
    neck.train()
    _, projections = neck.forward_with_projections(x)
    projections[0][0].square().mean().backward()
    assert neck.projections[0][0].conv.weight.grad.abs().sum() > 0
    assert neck.projections[0][2].conv.weight.grad is None


def test_bad_configuration():
    with pytest.raises(ValueError, match='fuse index 3'):
        MODELS.build(dict(type='CAFM', in_channels=32, num_inputs=3,
                          branch_channels=(8, ), fuse_indices=(3, )))
    neck = MODELS.build(dict(type='CAFM', in_channels=32, num_inputs=3,
                             branch_channels=(8, )))
    with pytest.raises(ValueError, match='3 inputs but got 2'):
        neck(inputs(2))


def test_learned_branches_project_even_at_equal_width():
    neck = MODELS.build(dict(type='CAFM', in_channels=32, num_inputs=3,
                             branch_channels=(32, 32), out_channels=16,
                             learned_branches=(0, ),
                             projected_inputs=(0, 1, 2)))
    assert not any(isinstance(m, torch.nn.Identity)
                   for m in neck.projections[0])
    assert all(isinstance(m, torch.nn.Identity)
               for m in neck.projections[1])
    x = inputs(3)
    projections = neck.project(x)
    assert not torch.allclose(projections[0][1], x[1])
    assert torch.equal(projections[1][1], x[1])
    with pytest.raises(ValueError, match='learned branch 2'):
        MODELS.build(dict(type='CAFM', in_channels=32, num_inputs=3,
                          branch_channels=(32, 32), learned_branches=(2, )))
