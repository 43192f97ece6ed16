from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS


@MODELS.register_module()
class CAFM(BaseModule):
    """Channel-attention fusion of features projected into several spaces.

    Every input (a backbone level) is projected into each branch's space by
    a 1x1 conv + norm, or kept as it is when its width already equals the
    branch's. The projection has no activation: a teacher's features are
    signed, and a ReLU'd projection could not reach their negative part. In distillation one branch stands for one teacher,
    and ``project`` gives exactly the maps aligned to that teacher. The
    projections of the fused inputs are concatenated (resized to the first
    one's size), re-weighted per channel by sigmoid gates from global
    pooling and a bottleneck MLP, and fused by a 1x1 and a 3x3 conv.
    Without teachers it is a plain fusion neck, e.g. of several backbone
    levels with one branch.

    **Projection contract** (what ``DualTeacherDistiller`` relies on):
    ``branch_channels`` lists the width of each branch and
    ``forward_with_projections(inputs)`` returns ``(outputs, projections)``
    with ``projections[b][i]`` = branch b's projection of input i, the very
    maps that are fused. By default only the fused inputs are projected:
    under DDP every parameter must get a gradient, and the projection of an
    unfused input gets none without a teacher. ``distillation_config``
    adds the distilled inputs to ``projected_inputs``, ``deployable_config``
    takes them out again. A neck loads the weights of one that projects
    more with strict keys: the weights of projections it does not hold are
    ignored.

    Args:
        in_channels (int | Sequence[int]): Channels of each input.
        branch_channels (Sequence[int]): Width of each branch.
        out_channels (int): Channels of the fused output.
        fuse_indices (Sequence[int]): Inputs that are fused (negative
            indices count from the end). Defaults to the last one.
        num_inputs (int): Number of inputs when ``in_channels`` is an int
            (e.g. 3 for the student's blocks 3, 7 and 11). Defaults to 1.
        reduction (int): Bottleneck ratio of the attention MLP.
        learned_branches (Sequence[int]): Branches projected by a learned
            1x1 conv + norm even where the widths match, e.g. to stand in
            for a teacher wider than the student (DINOv2-L for a ViT-B
            student) with equal-width small models. Defaults to none.
        projected_inputs (Sequence[int], optional): Inputs projected into
            the branches (e.g. for distillation); the others are ignored.
            Must contain the fused ones. Defaults to the fused ones.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 branch_channels: Sequence[int],
                 out_channels: int = 1024,
                 fuse_indices: Sequence[int] = (-1, ),
                 num_inputs: int = 1,
                 reduction: int = 4,
                 learned_branches: Sequence[int] = (),
                 projected_inputs: Optional[Sequence[int]] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(in_channels, int):
            in_channels = [in_channels] * num_inputs
        if not branch_channels:
            raise ValueError('CAFM needs at least one branch')
        if not fuse_indices:
            raise ValueError('CAFM needs at least one input to fuse')
        self.in_channels = list(in_channels)
        self.num_inputs = len(self.in_channels)
        for index in fuse_indices:
            if not -self.num_inputs <= index < self.num_inputs:
                raise ValueError(f'fuse index {index} is outside the '
                                 f'{self.num_inputs} inputs')
        self.fuse_indices = [i % self.num_inputs for i in fuse_indices]
        self.branch_channels = list(branch_channels)
        for index in learned_branches:
            if not 0 <= index < len(self.branch_channels):
                raise ValueError(f'learned branch {index} is outside the '
                                 f'{len(self.branch_channels)} branches')
        self.align_corners = align_corners
        if projected_inputs is None:
            projected_inputs = self.fuse_indices
        for index in projected_inputs:
            if not -self.num_inputs <= index < self.num_inputs:
                raise ValueError(f'projected input {index} is outside the '
                                 f'{self.num_inputs} inputs')
        self.projected_inputs = sorted(
            {i % self.num_inputs for i in projected_inputs})
        unprojected = set(self.fuse_indices) - set(self.projected_inputs)
        if unprojected:
            raise ValueError(f'fused inputs {sorted(unprojected)} are not '
                             f'among projected_inputs {projected_inputs}')

        # Unprojected inputs hold a parameter-free placeholder so that the
        # keys of the others do not depend on ``projected_inputs``.
        self.projections = nn.ModuleList()
        for b, width in enumerate(self.branch_channels):
            self.projections.append(
                nn.ModuleList(
                    nn.Identity() if i not in self.projected_inputs or (
                        channels == width and b not in learned_branches)
                    else ConvModule(channels, width, 1, norm_cfg=norm_cfg,
                                    act_cfg=None)
                    for i, channels in enumerate(self.in_channels)))
        self._register_load_state_dict_pre_hook(self._skip_unprojected)

        fused = sum(self.branch_channels) * len(self.fuse_indices)
        hidden = max(fused // reduction, 1)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(fused, hidden),
            nn.ReLU(inplace=True), nn.Linear(hidden, fused), nn.Sigmoid())
        self.fusion = nn.Sequential(
            ConvModule(fused, out_channels, 1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg),
            ConvModule(out_channels, out_channels, 3, padding=1,
                       norm_cfg=norm_cfg, act_cfg=act_cfg))

    @staticmethod
    def distillation_config(cfg: dict, inputs: Sequence[int]) -> dict:
        """``cfg`` (a CAFM config) also projecting ``inputs``."""
        cfg = dict(cfg)
        projected = cfg.get('projected_inputs') or cfg.get(
            'fuse_indices', (-1, ))
        cfg['projected_inputs'] = [*projected, *inputs]
        return cfg

    @staticmethod
    def deployable_config(cfg: dict) -> dict:
        """``cfg`` (a CAFM config) projecting only the fused inputs."""
        cfg = dict(cfg)
        cfg.pop('projected_inputs', None)
        return cfg

    def _skip_unprojected(self, state_dict, prefix, *args):
        """Drop the weights of projections of unprojected inputs."""
        for b in range(len(self.branch_channels)):
            for i in set(range(self.num_inputs)) - set(self.projected_inputs):
                stale = f'{prefix}projections.{b}.{i}.'
                for key in [k for k in state_dict if k.startswith(stale)]:
                    del state_dict[key]

    def _check_inputs(self, inputs):
        if len(inputs) != self.num_inputs:
            raise ValueError(f'CAFM was built for {self.num_inputs} inputs '
                             f'but got {len(inputs)}')

    def project(self,
                inputs: Sequence[torch.Tensor],
                indices: Optional[Sequence[int]] = None
                ) -> List[List[torch.Tensor]]:
        """Projections ``[branch][k]`` of ``inputs[indices[k]]`` (default:
        every projected input)."""
        self._check_inputs(inputs)
        indices = self.projected_inputs if indices is None else indices
        unprojected = set(indices) - set(self.projected_inputs)
        if unprojected:
            raise ValueError(f'inputs {sorted(unprojected)} are not projected '
                             f'(projected_inputs={self.projected_inputs})')
        return [[branch[i](inputs[i]) for i in indices]
                for branch in self.projections]

    def _concat(self, projections):
        maps = [m for branch in projections for m in branch]
        size = maps[0].shape[2:]
        maps = [
            m if m.shape[2:] == size else resize(
                m, size=size, mode='bilinear',
                align_corners=self.align_corners) for m in maps
        ]
        return torch.cat(maps, dim=1)

    def fuse(self, projections: List[List[torch.Tensor]]) -> torch.Tensor:
        """Fuse projections ``[branch][k]`` of the fused inputs."""
        x = self._concat(projections)
        x = x * self.attention(x)[:, :, None, None]
        return self.fusion(x)

    def forward(self, inputs):
        return (self.fuse(self.project(inputs, self.fuse_indices)), )

    def forward_with_projections(self, inputs):
        """``(outputs, projections)``: ``projections[b][i]`` is branch b's
        projection of input i (None where input i is not projected)."""
        self._check_inputs(inputs)
        projections = [[None] * self.num_inputs for _ in self.projections]
        for b, maps in enumerate(self.project(inputs)):
            for i, projection in zip(self.projected_inputs, maps):
                projections[b][i] = projection
        chosen = [[branch[i] for i in self.fuse_indices]
                  for branch in projections]
        return (self.fuse(chosen), ), projections
