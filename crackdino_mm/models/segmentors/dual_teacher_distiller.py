import os.path as osp
import re
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import ModuleList
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

_TEACHER_KEY = re.compile(r'(^|\.)teachers\.')


def _out_positions(backbone: nn.Module, layers: Sequence[int],
                   who: str) -> List[int]:
    """Positions of block indices in a backbone's ``out_indices``."""
    out_indices = getattr(backbone, 'out_indices', None)
    if out_indices is None:
        raise TypeError(f'the {who} backbone {type(backbone).__name__} has no '
                        '`out_indices` to map distilled layers to outputs')
    out_indices = [int(i) for i in out_indices]
    missing = [layer for layer in layers if layer not in out_indices]
    if missing:
        raise ValueError(f'{who} layers {missing} are not among the {who} '
                         f'backbone\'s out_indices {out_indices}')
    return [out_indices.index(layer) for layer in layers]


@MODELS.register_module()
class DualTeacherDistiller(EncoderDecoder):
    """A student segmentor distilled from frozen teacher backbones.

    The student is a plain ``EncoderDecoder`` (backbone, neck, decode head),
    so a checkpoint of it loads into the student config once the teacher
    keys are dropped (``tools/export_student.py``). The neck must be able
    to project the student's features into each teacher's space
    (``project``/``return_projections``, as ``CAFM``): branch k of the
    neck is aligned with teacher k, layer by layer.

    Each teacher runs only inside ``loss`` (training): frozen, in eval mode
    whatever ``train()`` is called with, under ``torch.no_grad()``; its
    features are centred by a running mean per distilled layer (buffers,
    saved with the checkpoint; subtracted, then updated with momentum as in
    DINO) before the distillation loss. Teacher weights are not written
    into checkpoints: they are reloaded from their own files by
    ``init_weights`` (which the runner calls before training and resuming).

    Losses: every segmentation loss of the heads is scaled by
    ``seg_weight`` (0.7); the head's own ``loss_gp`` keeps its weight;
    ``loss_distill_t{k}`` = ``distill_weight`` (0.3) x teacher weight x
    sum over layer pairs i of ``layer_weights[i]`` x distillation loss.

    Args:
        teachers (list[dict]): One dict per teacher with ``backbone`` (any
            backbone config MMSeg or mmpretrain builds, with
            ``init_cfg=dict(type='Pretrained', checkpoint=...)``),
            ``teacher_layers`` (teacher block indices, among that
            backbone's ``out_indices``), ``student_layers`` (student block
            indices, among the student backbone's ``out_indices``),
            ``weight``, and optionally ``allow_random_init=True`` to allow a
            teacher without a checkpoint (tests and benchmarks only).
        distill_loss (dict): Distillation loss config.
        layer_weights (Sequence[float], optional): Weight of each layer
            pair; defaults to (i + 1) / n for pair i of n (deeper layers
            count more), as the reference.
        distill_weight (float): Weight of the distillation losses.
        seg_weight (float): Weight of the segmentation losses.
        center_momentum (float): Momentum of the teacher-feature centres.
        teacher_autocast (bool): Run the teachers under bf16 autocast.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 teachers: Sequence[dict],
                 neck: Optional[dict] = None,
                 auxiliary_head: Optional[dict] = None,
                 distill_loss: dict = dict(
                     type='ChannelKLDistillLoss', temperature=3.0),
                 layer_weights: Optional[Sequence[float]] = None,
                 distill_weight: float = 0.3,
                 seg_weight: float = 0.7,
                 center_momentum: float = 0.9,
                 teacher_autocast: bool = False,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        if not teachers:
            raise ValueError('DualTeacherDistiller needs at least one teacher')
        if not (hasattr(self, 'neck') and hasattr(self.neck, 'project')):
            raise TypeError(
                'the distiller needs a neck that projects student features '
                'into each teacher space (e.g. CAFM with one branch per '
                'teacher)')
        branches = list(self.neck.branch_channels)
        if len(branches) != len(teachers):
            raise ValueError(f'the neck has {len(branches)} branches for '
                             f'{len(teachers)} teachers')
        if not 0 <= center_momentum < 1:
            raise ValueError(
                f'center_momentum must be in [0, 1), got {center_momentum}')
        self.distill_weight = distill_weight
        self.seg_weight = seg_weight
        self.center_momentum = center_momentum
        self.teacher_autocast = teacher_autocast
        self.distill_loss = MODELS.build(distill_loss)

        # mmengine's ModuleList passes init_weights on to the teachers.
        self.teachers = ModuleList()
        self.teacher_checkpoints = []
        self.teacher_weights = []
        self.teacher_positions = []
        self.student_positions = []
        self.teacher_centers = nn.Module()
        num_pairs = None
        for k, spec in enumerate(teachers):
            spec = dict(spec)
            required = {'backbone', 'teacher_layers', 'student_layers',
                        'weight'}
            if not required <= set(spec):
                raise KeyError(f'teacher {k} needs the keys {sorted(required)}'
                               f', got {sorted(spec)}')
            allow_random = spec.pop('allow_random_init', False)
            backbone_cfg = spec.pop('backbone')
            teacher_layers = list(spec.pop('teacher_layers'))
            student_layers = list(spec.pop('student_layers'))
            weight = float(spec.pop('weight'))
            if spec:
                raise KeyError(f'teacher {k}: unknown keys {sorted(spec)}')
            if len(teacher_layers) != len(student_layers):
                raise ValueError(
                    f'teacher {k}: {len(teacher_layers)} teacher layers for '
                    f'{len(student_layers)} student layers')
            if num_pairs not in (None, len(teacher_layers)) and \
                    layer_weights is None:
                raise ValueError('teachers with different numbers of layer '
                                 'pairs need explicit layer_weights')
            num_pairs = len(teacher_layers)
            self.teacher_checkpoints.append(
                self._teacher_checkpoint(k, backbone_cfg, allow_random))
            teacher = MODELS.build(backbone_cfg)
            width = getattr(teacher, 'embed_dims', branches[k])
            if width != branches[k]:
                raise ValueError(
                    f'teacher {k} has {width} channels but neck branch {k} '
                    f'projects to {branches[k]}')
            for param in teacher.parameters():
                param.requires_grad = False
            self.teachers.append(teacher.eval())
            self.teacher_weights.append(weight)
            self.teacher_positions.append(
                _out_positions(teacher, teacher_layers, f'teacher {k}'))
            self.student_positions.append(
                _out_positions(self.backbone, student_layers, 'student'))
            for j in range(len(teacher_layers)):
                self.teacher_centers.register_buffer(
                    f't{k}_l{j}', torch.zeros(branches[k]))
        if layer_weights is None:
            layer_weights = [(i + 1) / num_pairs for i in range(num_pairs)]
        if len(layer_weights) != num_pairs:
            raise ValueError(f'{len(layer_weights)} layer_weights for '
                             f'{num_pairs} layer pairs')
        self.layer_weights = [float(w) for w in layer_weights]
        self._register_state_dict_hook(self._drop_teacher_weights)
        self.register_load_state_dict_post_hook(self._teachers_not_missing)

    @staticmethod
    def _teacher_checkpoint(k, backbone_cfg, allow_random):
        init_cfg = backbone_cfg.get('init_cfg') or {}
        checkpoint = init_cfg.get('checkpoint') if init_cfg.get(
            'type') == 'Pretrained' else None
        if checkpoint is None and not allow_random:
            raise ValueError(
                f'teacher {k} has no pretrained checkpoint: set backbone '
                "init_cfg=dict(type='Pretrained', checkpoint=PATH) (or "
                'allow_random_init=True for tests)')
        return checkpoint

    @staticmethod
    def _drop_teacher_weights(module, state_dict, prefix, local_metadata):
        for key in [k for k in state_dict if k.startswith(prefix + 'teachers.')]:
            del state_dict[key]
        return state_dict

    @staticmethod
    def _teachers_not_missing(module, incompatible_keys):
        missing = incompatible_keys.missing_keys
        missing[:] = [k for k in missing if not _TEACHER_KEY.search(k)]

    def init_weights(self):
        absent = [
            path for path in self.teacher_checkpoints
            if path is not None and '://' not in path and not osp.isfile(path)
        ]
        if absent:
            raise FileNotFoundError(
                'teacher checkpoint(s) not found: ' + ', '.join(absent))
        super().init_weights()

    def train(self, mode: bool = True):
        super().train(mode)
        for teacher in self.teachers:
            teacher.train(False)
        return self

    def teacher_features(self, inputs: torch.Tensor) -> List[List[torch.Tensor]]:
        """Distilled maps ``[teacher][pair]`` of every teacher, no grad."""
        features = []
        with torch.no_grad(), torch.autocast(
                device_type=inputs.device.type, dtype=torch.bfloat16,
                enabled=self.teacher_autocast):
            for teacher, positions in zip(self.teachers,
                                          self.teacher_positions):
                outs = teacher(inputs)
                outs = [o[0] if isinstance(o, (list, tuple)) else o
                        for o in outs]
                features.append([outs[p].float() for p in positions])
        return features

    def center(self, k: int, j: int, feat: torch.Tensor) -> torch.Tensor:
        """Subtract the running centre of teacher k, pair j; update it."""
        center = getattr(self.teacher_centers, f't{k}_l{j}')
        centred = feat - center[None, :, None, None]
        if self.training:
            with torch.no_grad():
                center.mul_(self.center_momentum).add_(
                    feat.mean(dim=(0, 2, 3)), alpha=1 - self.center_momentum)
        return centred

    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        feats = self.backbone(inputs)
        fused, projections = self.neck(feats, return_projections=True)
        losses = {}
        seg_losses = self._decode_head_forward_train(fused, data_samples)
        if self.with_auxiliary_head:
            seg_losses.update(
                self._auxiliary_head_forward_train(fused, data_samples))
        for name, value in seg_losses.items():
            scaled = 'loss' in name and not name.endswith('loss_gp')
            losses[name] = value * self.seg_weight if scaled else value

        for k, teacher_maps in enumerate(self.teacher_features(inputs)):
            loss = 0.
            for j, (teacher_map, position) in enumerate(
                    zip(teacher_maps, self.student_positions[k])):
                student_map = projections[k][position]
                loss = loss + self.layer_weights[j] * self.distill_loss(
                    student_map, self.center(k, j, teacher_map))
            losses[f'loss_distill_t{k}'] = (
                self.distill_weight * self.teacher_weights[k] * loss)
        return losses
