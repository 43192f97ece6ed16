"""DINOv2 backbone against an independent re-implementation of the official
forward pass (facebookresearch/dinov2), on checkpoints written here in the
official key layout."""
import math
import pickle

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

# Reduced depth (and, for giant, width) keeps the test fast; the key layout,
# heads, layer scale and SwiGLU rounding are those of the official models.
ARCHS = {
    'small': dict(dim=384, heads=6, depth=2, hidden=1536, swiglu=False),
    'base': dict(dim=768, heads=12, depth=2, hidden=3072, swiglu=False),
    'large': dict(dim=1024, heads=16, depth=2, hidden=4096, swiglu=False),
    'giant': dict(dim=192, heads=3, depth=2, hidden=768, swiglu=True),
}


def swiglu_hidden(hidden):
    return (int(hidden * 2 / 3) + 7) // 8 * 8


def official_state_dict(dim, heads, depth, hidden, swiglu, registers,
                        grid=37, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=0.02):
        return torch.randn(*shape, generator=g) * scale

    sd = {
        'cls_token': rand(1, 1, dim, scale=1.0),
        'pos_embed': rand(1, 1 + grid * grid, dim, scale=1.0),
        'mask_token': rand(1, dim),
        'patch_embed.proj.weight': rand(dim, 3, 14, 14),
        'patch_embed.proj.bias': rand(dim),
        'norm.weight': 1 + rand(dim, scale=0.1),
        'norm.bias': rand(dim, scale=0.1),
    }
    if registers:
        sd['register_tokens'] = rand(1, registers, dim, scale=1.0)
    for i in range(depth):
        p = f'blocks.{i}.'
        sd.update({
            p + 'norm1.weight': 1 + rand(dim, scale=0.1),
            p + 'norm1.bias': rand(dim, scale=0.1),
            p + 'attn.qkv.weight': rand(3 * dim, dim, scale=dim**-0.5),
            p + 'attn.qkv.bias': rand(3 * dim),
            p + 'attn.proj.weight': rand(dim, dim, scale=dim**-0.5),
            p + 'attn.proj.bias': rand(dim),
            p + 'ls1.gamma': rand(dim, scale=0.5),
            p + 'norm2.weight': 1 + rand(dim, scale=0.1),
            p + 'norm2.bias': rand(dim, scale=0.1),
            p + 'ls2.gamma': rand(dim, scale=0.5),
        })
        if swiglu:
            h = swiglu_hidden(hidden)
            sd.update({
                p + 'mlp.w12.weight': rand(2 * h, dim, scale=dim**-0.5),
                p + 'mlp.w12.bias': rand(2 * h),
                p + 'mlp.w3.weight': rand(dim, h, scale=h**-0.5),
                p + 'mlp.w3.bias': rand(dim),
            })
        else:
            sd.update({
                p + 'mlp.fc1.weight': rand(hidden, dim, scale=dim**-0.5),
                p + 'mlp.fc1.bias': rand(hidden),
                p + 'mlp.fc2.weight': rand(dim, hidden, scale=hidden**-0.5),
                p + 'mlp.fc2.bias': rand(dim),
            })
    return sd


def reference_features(sd, x, heads, depth, registers, blocks, antialias,
                       offset):
    """The official get_intermediate_layers(x, n=blocks, reshape=True,
    norm=True), written from the official code's behaviour."""
    B, _, H, W = x.shape
    dim = sd['cls_token'].shape[-1]
    t = F.conv2d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'],
                 stride=14)
    h0, w0 = t.shape[-2:]
    t = t.flatten(2).transpose(1, 2)
    t = torch.cat([sd['cls_token'].expand(B, -1, -1), t], 1)
    pos = sd['pos_embed']
    N = pos.shape[1] - 1
    if not (h0 * w0 == N and H == W):
        M = int(math.sqrt(N))
        patch_pos = pos[:, 1:].reshape(1, M, M, dim).permute(0, 3, 1, 2)
        if offset:
            kw = dict(scale_factor=((h0 + offset) / M, (w0 + offset) / M))
        else:
            kw = dict(size=(h0, w0))
        patch_pos = F.interpolate(patch_pos, mode='bicubic',
                                  antialias=antialias, **kw)
        pos = torch.cat([pos[:, :1],
                         patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)], 1)
    t = t + pos
    if registers:
        t = torch.cat([t[:, :1], sd['register_tokens'].expand(B, -1, -1),
                       t[:, 1:]], 1)

    def ln(v, name):
        return F.layer_norm(v, (dim, ), sd[name + '.weight'],
                            sd[name + '.bias'], 1e-6)

    outs = []
    for i in range(depth):
        p = f'blocks.{i}.'
        y = ln(t, p + 'norm1')
        qkv = F.linear(y, sd[p + 'attn.qkv.weight'], sd[p + 'attn.qkv.bias'])
        q, k, v = qkv.reshape(B, -1, 3, heads, dim // heads).permute(
            2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * (dim // heads)**-0.5
        y = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B, -1, dim)
        y = F.linear(y, sd[p + 'attn.proj.weight'], sd[p + 'attn.proj.bias'])
        t = t + sd[p + 'ls1.gamma'] * y
        y = ln(t, p + 'norm2')
        if p + 'mlp.w12.weight' in sd:
            x1, x2 = F.linear(y, sd[p + 'mlp.w12.weight'],
                              sd[p + 'mlp.w12.bias']).chunk(2, -1)
            y = F.linear(F.silu(x1) * x2, sd[p + 'mlp.w3.weight'],
                         sd[p + 'mlp.w3.bias'])
        else:
            y = F.gelu(F.linear(y, sd[p + 'mlp.fc1.weight'],
                                sd[p + 'mlp.fc1.bias']))
            y = F.linear(y, sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'])
        t = t + sd[p + 'ls2.gamma'] * y
        if i in blocks:
            outs.append(t)
    outs = [ln(o, 'norm')[:, 1 + registers:] for o in outs]
    return [
        o.reshape(B, h0, w0, dim).permute(0, 3, 1, 2).contiguous()
        for o in outs
    ]


def arch_cfg(name):
    a = ARCHS[name]
    cfg = dict(embed_dims=a['dim'], num_layers=a['depth'],
               num_heads=a['heads'], feedforward_channels=a['hidden'])
    if a['swiglu']:
        cfg['ffn_type'] = 'swiglu_fused'
    return cfg


def build(arch, path=None, **kwargs):
    init_cfg = dict(type='Pretrained', checkpoint=path) if path else None
    kwargs.setdefault('out_indices', 1)
    model = MODELS.build(
        dict(type='DINOv2', arch=arch, init_cfg=init_cfg, **kwargs))
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('name', list(ARCHS))
@pytest.mark.parametrize('registers', [0, 4])
def test_matches_official_forward(name, registers, tmp_path):
    a = ARCHS[name]
    sd = official_state_dict(registers=registers, **a)
    path = str(tmp_path / 'official.pth')
    torch.save(sd, path)
    model = build(arch_cfg(name), path, num_register_tokens=registers,
                  out_indices=[0, 1])
    antialias, offset = (True, 0.0) if registers else (False, 0.1)
    # 518 (no interpolation), smaller, non-square both ways, larger than 518.
    sizes = [(518, 518), (224, 224), (224, 448), (308, 196)]
    if name == 'small':
        sizes.append((532, 532))
    for size in sizes:
        x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            ours = model(x)
            ref = reference_features(sd, x, a['heads'], a['depth'], registers,
                                     [0, 1], antialias, offset)
        assert len(ours) == 2
        for o, r in zip(ours, ref):
            assert o.shape == (1, a['dim'], size[0] // 14, size[1] // 14)
            assert (o - r).abs().max() < 1e-4, (name, registers, size)


def test_hub_names_set_registers_and_interpolation():
    reg = MODELS.build(dict(type='DINOv2', arch='dinov2_vits14_reg'))
    plain = MODELS.build(dict(type='DINOv2', arch='dinov2_vitl14'))
    assert reg.num_register_tokens == 4 and reg.interpolate_antialias
    assert reg.interpolate_offset == 0 and reg.embed_dims == 384
    assert plain.num_register_tokens == 0 and not plain.interpolate_antialias
    assert plain.interpolate_offset == 0.1 and plain.num_layers == 24
    giant = MODELS.build(dict(type='DINOv2', arch='dinov2_vitg14',
                              out_indices=1))
    assert giant.layers[0].ffn.w3.in_features == 4096
    with pytest.raises(KeyError, match='dinov2_vitx14'):
        MODELS.build(dict(type='DINOv2', arch='dinov2_vitx14'))


def test_padding_for_sizes_not_multiple_of_14(tmp_path):
    a = ARCHS['small']
    sd = official_state_dict(registers=0, **a)
    torch.save(sd, tmp_path / 'o.pth')
    model = build(arch_cfg('small'), str(tmp_path / 'o.pth'), out_indices=1)
    x = torch.randn(1, 3, 230, 300)
    with torch.no_grad():
        (ours, ) = model(x)
    padded = F.pad(x, (0, 308 - 300, 0, 238 - 230))
    (ref, ) = reference_features(sd, padded, a['heads'], a['depth'], 0, [1],
                                 False, 0.1)
    assert ours.shape[-2:] == (17, 22)
    assert (ours - ref).abs().max() < 1e-4


def test_mmpretrain_format_and_segmentor_checkpoints(tmp_path):
    a = ARCHS['small']
    torch.save(official_state_dict(registers=4, **a), tmp_path / 'o.pth')
    first = build(arch_cfg('small'), str(tmp_path / 'o.pth'),
                  num_register_tokens=4, out_indices=2)
    torch.save(first.state_dict(), tmp_path / 'own.pth')
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in first.state_dict().items()},
                'meta': {}}, tmp_path / 'segmentor.pth')
    x = torch.randn(1, 3, 112, 140)
    with torch.no_grad():
        expected = first(x)
        for name in ('own.pth', 'segmentor.pth'):
            other = build(arch_cfg('small'), str(tmp_path / name),
                          num_register_tokens=4, out_indices=2)
            for e, o in zip(expected, other(x)):
                assert torch.equal(e, o)


def test_wrong_checkpoints_are_errors_naming_file_and_keys(tmp_path):
    small = official_state_dict(registers=0, **ARCHS['small'])
    path = str(tmp_path / 'small.pth')
    torch.save(small, path)
    with pytest.raises(KeyError, match='small.pth.*shape mismatch.*cls_token'):
        build(arch_cfg('base'), path)
    missing = dict(small)
    del missing['blocks.1.ls2.gamma']
    torch.save(missing, tmp_path / 'missing.pth')
    with pytest.raises(KeyError, match=r'missing.pth.*missing keys: '
                       r'layers\.1\.ffn\.gamma2\.weight'):
        build(arch_cfg('small'), str(tmp_path / 'missing.pth'))
    extra = dict(small, **{'blocks.5.norm1.weight': torch.ones(384)})
    torch.save(extra, tmp_path / 'extra.pth')
    with pytest.raises(KeyError, match=r'unexpected keys: layers\.5\.ln1'):
        build(arch_cfg('small'), str(tmp_path / 'extra.pth'))
    # Registers expected but absent in the file.
    with pytest.raises(KeyError, match='missing keys: register_tokens'):
        build(arch_cfg('small'), path, num_register_tokens=4)
    raw = open(path, 'rb').read()
    (tmp_path / 'truncated.pth').write_bytes(raw[:len(raw) // 3])
    with pytest.raises(RuntimeError, match='truncated.pth'):
        build(arch_cfg('small'), str(tmp_path / 'truncated.pth'))
    with open(tmp_path / 'list.pth', 'wb') as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises((TypeError, RuntimeError), match='list.pth'):
        build(arch_cfg('small'), str(tmp_path / 'list.pth'))
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        build(arch_cfg('small'), str(tmp_path / 'nowhere.pth'))


def test_out_indices_cls_token_freezing_and_checkpointing():
    arch = dict(embed_dims=48, num_layers=4, num_heads=2,
                feedforward_channels=96)
    last_two = MODELS.build(dict(type='DINOv2', arch=arch, out_indices=2))
    assert last_two.out_indices == [2, 3]
    with_cls = MODELS.build(
        dict(type='DINOv2', arch=arch, out_indices=[-1],
             output_cls_token=True))
    with_cls.load_state_dict(last_two.state_dict())
    x = torch.randn(2, 3, 56, 70)
    (featmap, cls_token), = with_cls(x)
    assert featmap.shape == (2, 48, 4, 5) and cls_token.shape == (2, 48)
    assert torch.allclose(featmap, last_two(x)[1])

    frozen = MODELS.build(dict(type='DINOv2', arch=arch, frozen=True))
    assert frozen.train() is frozen
    assert not any(p.requires_grad for p in frozen.parameters())
    assert not any(m.training for m in frozen.modules())
    partly = MODELS.build(dict(type='DINOv2', arch=arch, frozen_stages=2))
    partly.train()
    assert not partly.layers[1].attn.qkv.weight.requires_grad
    assert partly.layers[2].attn.qkv.weight.requires_grad
    assert not partly.cls_token.requires_grad

    plain = MODELS.build(dict(type='DINOv2', arch=arch, out_indices=[1, 3],
                              drop_path_rate=0.0))
    ckpt = MODELS.build(dict(type='DINOv2', arch=arch, out_indices=[1, 3],
                             with_cp=True))
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 56, 56)
    grads = []
    for model in (plain, ckpt):
        model.train()
        model.zero_grad()
        outs = model(x)
        sum(o.square().mean() for o in outs).backward()
        grads.append(model.layers[0].attn.qkv.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
