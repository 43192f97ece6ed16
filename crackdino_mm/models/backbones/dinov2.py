"""DINOv2 vision transformers for dense prediction.

Built on mmpretrain's ``VisionTransformer`` (its attention, MLP, SwiGLU and
layer-scale blocks) with what DINOv2 needs on top: register tokens, the
official position-embedding interpolation, the final LayerNorm applied to
every returned block, and loading of the official checkpoint files as they
are.
"""
import math
import re
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.runner.checkpoint import CheckpointLoader
from mmpretrain.models.backbones import VisionTransformer
from mmseg.registry import MODELS
from torch import nn

# embed_dims, num_layers, num_heads, MLP hidden width, MLP type.
DINOV2_ARCHS = {
    'small': dict(embed_dims=384, num_layers=12, num_heads=6,
                  feedforward_channels=1536),
    'base': dict(embed_dims=768, num_layers=12, num_heads=12,
                 feedforward_channels=3072),
    'large': dict(embed_dims=1024, num_layers=24, num_heads=16,
                  feedforward_channels=4096),
    # SwiGLU: the hidden width 6144 is rounded to 2/3 of it (4096).
    'giant': dict(embed_dims=1536, num_layers=40, num_heads=24,
                  feedforward_channels=6144, ffn_type='swiglu_fused'),
}
# Official hub names: arch and number of register tokens. The register
# models interpolate position embeddings with antialiasing and no offset.
HUB_MODELS = {
    f'dinov2_vit{letter}14{suffix}': (arch, registers)
    for letter, arch in (('s', 'small'), ('b', 'base'), ('l', 'large'),
                         ('g', 'giant'))
    for suffix, registers in (('', 0), ('_reg', 4))
}

_OFFICIAL_RENAMES = [
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^blocks\.(\d+)\.norm1\.', r'layers.\1.ln1.'),
    (r'^blocks\.(\d+)\.norm2\.', r'layers.\1.ln2.'),
    (r'^blocks\.(\d+)\.attn\.', r'layers.\1.attn.'),
    (r'^blocks\.(\d+)\.ls1\.gamma$', r'layers.\1.attn.gamma1.weight'),
    (r'^blocks\.(\d+)\.ls2\.gamma$', r'layers.\1.ffn.gamma2.weight'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
    (r'^blocks\.(\d+)\.mlp\.(w12|w3)\.', r'layers.\1.ffn.\2.'),
    (r'^norm\.', 'ln1.'),
]


def is_official_dinov2(state_dict: Dict[str, torch.Tensor]) -> bool:
    """Whether a state dict uses facebookresearch/dinov2's key names."""
    return any(k.startswith(('blocks.', 'patch_embed.proj.'))
               for k in state_dict)


def convert_dinov2_state_dict(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename an official DINOv2 state dict to this backbone's key names.

    ``mask_token`` (used only by DINOv2's masked pre-training) is dropped;
    keys that match no rule are kept as they are, so that a strict load
    reports them.
    """
    converted = {}
    for key, value in state_dict.items():
        if key == 'mask_token':
            continue
        for pattern, replacement in _OFFICIAL_RENAMES:
            new_key, hits = re.subn(pattern, replacement, key)
            if hits:
                key = new_key
                break
        converted[key] = value
    return converted


def _list_keys(keys, limit=12):
    keys = sorted(keys)
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


@MODELS.register_module()
class DINOv2(VisionTransformer):
    """DINOv2 ViT returning NCHW feature maps of selected blocks.

    With the default ``final_norm=True`` each returned map equals the
    official ``get_intermediate_layers(x, n=out_indices, reshape=True,
    norm=True)``: the block's tokens through the final LayerNorm, class and
    register tokens removed. Inputs whose sides are not multiples of 14 are
    zero-padded at the bottom and right (zero is the mean colour after
    normalisation) by the patch embedding, so the maps cover the padded
    input: ``ceil(H / 14) x ceil(W / 14)``.

    Args:
        arch (str | dict): ``small``, ``base``, ``large``, ``giant``, an
            official hub name (``dinov2_vitb14``, ``dinov2_vitl14_reg``, ...
            which also sets the register tokens and interpolation), or a
            dict with ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` and optionally ``ffn_type``
            (``'origin'`` or ``'swiglu_fused'``).
        img_size (int): Training size of the position embeddings (518 for
            the official checkpoints: a 37x37 grid).
        patch_size (int): Patch size. Defaults to 14.
        num_register_tokens (int, optional): 0 or 4; set by hub names.
        interpolate_offset (float, optional): Offset of the official
            position-embedding interpolation: bicubic with
            ``scale_factor=((h + offset) / M, (w + offset) / M)``; 0 means
            resizing to the exact grid. Defaults to 0.1, or 0 for register
            models.
        interpolate_antialias (bool, optional): Antialiased bicubic
            interpolation. Defaults to False, or True for register models.
        out_indices (int | Sequence[int]): Blocks to return (0-based,
            negative from the end), or an int n for the last n blocks.
        final_norm (bool): Apply the final LayerNorm to every returned block
            (the official dense-prediction setting). Defaults to True.
        output_cls_token (bool): Return ``[featmap, cls_token]`` per block.
        frozen_stages (int): Freeze the embeddings and this many blocks.
        frozen (bool): Freeze everything and stay in eval mode, also after
            ``train()``: a fixed feature extractor (e.g. a teacher).
        with_cp (bool): Gradient checkpointing of the blocks (saves memory).
        drop_path_rate (float): Stochastic depth rate.
        layer_scale_init_value (float): Initial layer-scale value.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=PATH[, prefix='backbone.'])`` loads an official DINOv2
            file or a state dict of this class, strictly.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: int = 518,
                 patch_size: int = 14,
                 num_register_tokens: Optional[int] = None,
                 interpolate_offset: Optional[float] = None,
                 interpolate_antialias: Optional[bool] = None,
                 out_indices: Union[int, Sequence[int]] = 4,
                 final_norm: bool = True,
                 output_cls_token: bool = False,
                 frozen_stages: int = -1,
                 frozen: bool = False,
                 with_cp: bool = False,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-5,
                 init_cfg: Optional[dict] = None):
        arch_settings, hub_registers = self._parse_arch(arch)
        if num_register_tokens is None:
            num_register_tokens = hub_registers
        if num_register_tokens < 0:
            raise ValueError(
                f'num_register_tokens must be >= 0, got {num_register_tokens}')
        registers = num_register_tokens > 0
        ffn_type = arch_settings.pop('ffn_type', 'origin')
        super().__init__(
            arch=arch_settings,
            img_size=img_size,
            patch_size=patch_size,
            out_indices=-1,
            drop_path_rate=drop_path_rate,
            qkv_bias=True,
            norm_cfg=dict(type='LN', eps=1e-6),
            final_norm=True,
            out_type='featmap',
            with_cls_token=True,
            frozen_stages=-1,
            interpolate_mode='bicubic',
            layer_scale_init_value=layer_scale_init_value,
            layer_cfgs=dict(ffn_type=ffn_type),
            init_cfg=init_cfg)
        self.patch_size = patch_size
        self.num_register_tokens = num_register_tokens
        self.register_tokens = nn.Parameter(
            torch.zeros(1, num_register_tokens,
                        self.embed_dims)) if registers else None
        self.interpolate_offset = (0.0 if registers else 0.1) \
            if interpolate_offset is None else interpolate_offset
        self.interpolate_antialias = registers \
            if interpolate_antialias is None else interpolate_antialias
        self.out_indices = self._parse_out_indices(out_indices)
        self.apply_final_norm = final_norm
        self.output_cls_token = output_cls_token
        self.frozen_stages = frozen_stages
        self.frozen = frozen
        self.with_cp = with_cp
        if frozen_stages > 0 or frozen:
            self._freeze_stages()
        if frozen:
            self.train(False)

    @staticmethod
    def _parse_arch(arch):
        if isinstance(arch, str):
            name = arch.lower()
            registers = 0
            if name in HUB_MODELS:
                name, registers = HUB_MODELS[name]
            if name not in DINOV2_ARCHS:
                raise KeyError(
                    f'unknown DINOv2 arch {arch!r}; choose from '
                    f'{sorted(DINOV2_ARCHS) + sorted(HUB_MODELS)} or give a '
                    'dict')
            return dict(DINOV2_ARCHS[name]), registers
        required = {'embed_dims', 'num_layers', 'num_heads',
                    'feedforward_channels'}
        if not isinstance(arch, dict) or not required <= set(arch):
            raise ValueError(f'a custom DINOv2 arch needs a dict with keys '
                             f'{sorted(required)}, got {arch!r}')
        return dict(arch), 0

    def _parse_out_indices(self, out_indices):
        if isinstance(out_indices, int):
            if not 1 <= out_indices <= self.num_layers:
                raise ValueError(
                    f'out_indices={out_indices} asks for the last n blocks; '
                    f'n must be in 1..{self.num_layers}')
            return list(range(self.num_layers - out_indices, self.num_layers))
        indices = []
        for index in out_indices:
            if not -self.num_layers <= index < self.num_layers:
                raise ValueError(f'out index {index} is outside the '
                                 f'{self.num_layers} blocks')
            indices.append(index % self.num_layers)
        return indices

    def _freeze_stages(self):
        stages = self.num_layers if self.frozen else self.frozen_stages
        for param in (self.pos_embed, self.cls_token, self.register_tokens):
            if param is not None:
                param.requires_grad = False
        self.patch_embed.eval()
        for param in self.patch_embed.parameters():
            param.requires_grad = False
        for layer in self.layers[:stages]:
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False
        if stages == self.num_layers:
            self.ln1.eval()
            for param in self.ln1.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode and not self.frozen)
        if mode and self.frozen_stages > 0:
            self._freeze_stages()
        return self

    def interpolate_pos_embed(self, grid_h: int, grid_w: int,
                              dtype: torch.dtype) -> torch.Tensor:
        """Position embeddings for a grid, as DINOv2's own interpolation."""
        num_patches = self.pos_embed.shape[1] - 1
        if grid_h * grid_w == num_patches and grid_h == grid_w:
            return self.pos_embed.to(dtype)
        side = int(math.sqrt(num_patches))
        pos_embed = self.pos_embed.float()
        patch_pos = pos_embed[:, 1:].reshape(1, side, side, -1).permute(
            0, 3, 1, 2)
        if self.interpolate_offset:
            size_kwargs = dict(scale_factor=(
                (grid_h + self.interpolate_offset) / side,
                (grid_w + self.interpolate_offset) / side))
        else:
            size_kwargs = dict(size=(grid_h, grid_w))
        patch_pos = F.interpolate(
            patch_pos,
            mode='bicubic',
            antialias=self.interpolate_antialias,
            **size_kwargs)
        if patch_pos.shape[-2:] != (grid_h, grid_w):
            raise RuntimeError(
                f'position embeddings resized to {tuple(patch_pos.shape[-2:])}'
                f' instead of {(grid_h, grid_w)}')
        patch_pos = patch_pos.flatten(2).transpose(1, 2)
        return torch.cat([pos_embed[:, :1], patch_pos], dim=1).to(dtype)

    def forward(self, x: torch.Tensor) -> tuple:
        batch = x.shape[0]
        x, (grid_h, grid_w) = self.patch_embed(x)
        # Plain ints also when traced (ONNX export at a fixed size).
        grid_h, grid_w = int(grid_h), int(grid_w)
        x = torch.cat([self.cls_token.expand(batch, -1, -1), x], dim=1)
        x = x + self.interpolate_pos_embed(grid_h, grid_w, x.dtype)
        if self.register_tokens is not None:
            x = torch.cat([
                x[:, :1],
                self.register_tokens.expand(batch, -1, -1), x[:, 1:]
            ], dim=1)
        first_patch = 1 + self.num_register_tokens
        outs = []
        for index, layer in enumerate(self.layers):
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
            if index in self.out_indices:
                tokens = self.ln1(x) if self.apply_final_norm else x
                featmap = tokens[:, first_patch:].reshape(
                    batch, grid_h, grid_w, -1).permute(0, 3, 1,
                                                       2).contiguous()
                outs.append([featmap, tokens[:, 0]]
                            if self.output_cls_token else featmap)
        return tuple(outs)

    def init_weights(self):
        if not (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
            super().init_weights()
            return
        self.load_pretrained(self.init_cfg['checkpoint'],
                             self.init_cfg.get('prefix'))
        self._is_init = True

    def load_pretrained(self, filename: str, prefix: Optional[str] = None):
        """Load an official DINOv2 file or this class's weights, strictly.

        Accepts a bare state dict or one under ``state_dict``/``model``/
        ``teacher``; with ``prefix`` (e.g. ``'backbone.'`` for a segmentor
        checkpoint) only the keys under it are taken. Raises with the file
        name and the offending keys on any missing or unexpected key or
        shape that does not fit.
        """
        try:
            checkpoint = CheckpointLoader.load_checkpoint(
                filename, map_location='cpu')
        except FileNotFoundError:
            raise
        except Exception as error:
            raise RuntimeError(
                f'cannot read DINOv2 checkpoint {filename}: {error}') from error
        state_dict = checkpoint
        if isinstance(checkpoint, dict):
            for key in ('state_dict', 'model', 'teacher'):
                if isinstance(checkpoint.get(key), dict):
                    state_dict = checkpoint[key]
                    break
        if not (isinstance(state_dict, dict) and state_dict and all(
                isinstance(v, torch.Tensor) for v in state_dict.values())):
            raise TypeError(
                f'{filename} is not a state dict (expected a mapping of '
                f'parameter names to tensors, got {type(state_dict).__name__})')
        if prefix is None and not is_official_dinov2(state_dict) and any(
                k.startswith('backbone.') for k in state_dict):
            prefix = 'backbone.'
        if prefix:
            state_dict = {
                k[len(prefix):]: v
                for k, v in state_dict.items() if k.startswith(prefix)
            }
            if not state_dict:
                raise KeyError(f'{filename} has no keys under the prefix '
                               f'{prefix!r}')
        if is_official_dinov2(state_dict):
            state_dict = convert_dinov2_state_dict(state_dict)
        self._check_state_dict(state_dict, filename)
        self.load_state_dict(state_dict, strict=True)

    def _check_state_dict(self, state_dict, filename):
        own = self.state_dict()
        missing = set(own) - set(state_dict)
        unexpected = set(state_dict) - set(own)
        mismatched = []
        for key in set(own) & set(state_dict):
            theirs, ours = state_dict[key].shape, own[key].shape
            # Another grid of position embeddings is resized at load time
            # (bicubic); another embedding width is not.
            if key == 'pos_embed' and theirs[-1] == ours[-1]:
                continue
            if theirs != ours:
                mismatched.append(
                    f'{key} {tuple(theirs)} (model {tuple(ours)})')
        problems = []
        if missing:
            problems.append(f'missing keys: {_list_keys(missing)}')
        if unexpected:
            problems.append(f'unexpected keys: {_list_keys(unexpected)}')
        if mismatched:
            problems.append(f'shape mismatch: {_list_keys(mismatched)}')
        if problems:
            raise KeyError(
                f'checkpoint {filename} does not fit DINOv2 '
                f'(embed_dims={self.embed_dims}, num_layers={self.num_layers}'
                f', registers={self.num_register_tokens}; keys in this '
                'backbone\'s naming, official blocks.N = layers.N): ' +
                '; '.join(problems))
