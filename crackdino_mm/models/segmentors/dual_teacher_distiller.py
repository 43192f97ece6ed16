import contextlib
import copy
import os.path as osp
import re
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.dist import all_reduce
from mmengine.runner.checkpoint import CheckpointLoader
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

from ...utils.optimizer_step import is_due

_TEACHER_KEY = re.compile(r'(^|\.)teachers\.')
_TEACHER_KEYS = ('backbone', 'teacher_layers', 'student_layers', 'weight')
_OPTIONAL_TEACHER_KEYS = ('branch', 'layer_weights', 'allow_random_init')


def _ordered_teachers(teachers) -> Tuple[List[str], List[dict]]:
    """Names and specs of the teachers in neck-branch order. Named
    teachers each give their ``branch``: a dict's order does not survive a
    dumped config (mmengine sorts its keys)."""
    if not isinstance(teachers, Mapping):
        names = [str(k) for k in range(len(teachers))]
        branches = [spec.get('branch', k) for k, spec in enumerate(teachers)]
        specs = list(teachers)
    else:
        names = [str(name) for name in teachers]
        specs = list(teachers.values())
        unplaced = [n for n, spec in zip(names, specs) if 'branch' not in spec]
        if unplaced:
            raise KeyError(
                f'teachers.{unplaced[0]}: no branch; a named teacher gives '
                'the neck projection branch it is aligned to (branch=0 for '
                'the first of branch_channels)')
        branches = [spec['branch'] for spec in specs]
    if sorted(branches) != list(range(len(specs))):
        raise ValueError(f'teachers {names}: branches {branches} must be 0 '
                         f'to {len(specs) - 1}, one per teacher')
    order = sorted(range(len(specs)), key=lambda k: branches[k])
    return [names[k] for k in order], [specs[k] for k in order]


def _output_positions(backbone: nn.Module, layers: Sequence[int],
                      who: str) -> List[int]:
    """Positions in a backbone's outputs of the given block indices.

    Block indices are 0-based; negative ones count from the end when the
    backbone has ``num_layers``. Each must be in the backbone's
    ``out_indices``; the output at that index's position is the map used.
    """
    out_indices = getattr(backbone, 'out_indices', None)
    if out_indices is None:
        raise TypeError(f'the {who} backbone {type(backbone).__name__} has no '
                        '`out_indices` to find the distilled layers in')
    out_indices = [int(i) for i in out_indices]
    num_layers = getattr(backbone, 'num_layers', None)
    if num_layers is not None:
        layers = [layer % num_layers if layer < 0 else layer
                  for layer in layers]
    missing = [layer for layer in layers if layer not in out_indices]
    if missing:
        raise ValueError(f'{who} layers {missing} are not among the {who} '
                         f'backbone\'s out_indices {out_indices}')
    return [out_indices.index(layer) for layer in layers]


def _pretrained_checkpoint(backbone_cfg: dict):
    """``(checkpoint, prefix)`` of a ``Pretrained`` init_cfg, else None."""
    init_cfg = backbone_cfg.get('init_cfg') or {}
    if init_cfg.get('type') != 'Pretrained' or not init_cfg.get('checkpoint'):
        return None
    return init_cfg['checkpoint'], init_cfg.get('prefix')


def _missing_neck_contract(neck_cls) -> List[str]:
    """The methods of the distiller's neck contract a neck class lacks."""
    return [name for name in ('forward_with_projections',
                              'distillation_config', 'deployable_config')
            if not callable(getattr(neck_cls, name, None))]


@MODELS.register_module()
class DualTeacherDistiller(EncoderDecoder):
    """A student segmentor distilled from frozen teacher backbones.

    The student (backbone, neck, decode and auxiliary heads) is built by
    ``EncoderDecoder`` itself, so its state-dict keys are those of the
    plain student; ``tools/export_student.py`` drops the rest (see
    ``DISTILLER_ONLY_PREFIXES``) and ``student_config`` gives the student's
    config.

    **Neck contract.** The neck projects the student's features into each
    teacher's space. It must have ``branch_channels`` (one width per
    teacher, branch k for teacher k), ``forward_with_projections(inputs)``
    returning ``(outputs, projections)`` with ``projections[k][i]`` =
    branch k's projection of backbone output i, and, on its class,
    ``distillation_config(neck_cfg, inputs)`` and
    ``deployable_config(neck_cfg)``: the config of the neck that also
    projects the given (distilled) inputs, and of the neck without what
    only distillation uses (``CAFM`` has all four). The distiller builds
    its neck from ``distillation_config`` with the student outputs its
    teachers distil; ``student_config`` uses ``deployable_config``. A neck
    without them, or no neck, is a config error. So under DDP every
    parameter gets a gradient, the distiller's and the deployable
    student's alike (no ``find_unused_parameters``); the frozen teachers
    need nothing.

    **Teachers** run only inside ``loss`` (training), on the student's
    preprocessed inputs (same normalisation and size): in eval mode
    whatever ``train()`` is called with, with ``requires_grad=False`` (DDP
    leaves them out; mmengine's optimizer constructor skips them with
    ``paramwise_cfg``, and without it the optimizer never steps them as
    they get no gradient), under ``torch.no_grad()``. Their weights are not
    written into checkpoints, and loading a checkpoint without them is not
    an error, even with strict keys: ``init_weights`` (which the runner
    calls before training, resumed or not) loads each teacher strictly from
    its own ``init_cfg`` checkpoint, through the backbone's
    ``load_pretrained(path, prefix)`` when it has one (DINOv2's
    official-file loader), else as a state dict with strict keys. A local
    checkpoint file that does not exist fails ``init_weights`` before any
    teacher is loaded; building the model and testing a trained checkpoint
    (``tools/test.py``, which never calls ``init_weights``) need no teacher
    file, since teachers never run outside training.

    **Centring.** Each distilled teacher map has a running centre (one
    value per channel, a buffer saved with the checkpoint): the teacher map
    and the student's projection, both minus that centre, go into the loss;
    then, in training only, ``centre = m * centre + (1 - m) * batch mean``
    (mean over images and positions, averaged over processes when
    distributed), as DINO does. One centre for both, so that a student
    equal to its teacher has zero loss: centring the teacher alone makes
    the target the teacher's centred map, which a student starting from
    that teacher (DINOv2-B here) only reaches by moving away from it.

    **Losses.** Every loss of the heads (a key containing ``loss``, as
    MMSeg's ``parse_losses`` counts them) is a segmentation loss, scaled by
    ``seg_weight``, whatever its name, except the keys a head lists in its
    ``REGULARISER_LOSSES`` (e.g. ``LipschitzHead``'s gradient penalty),
    which keep their own weight. Per teacher k,
    ``loss_distill_t{k}`` = ``distill_weight`` x ``weight_k`` x sum over
    layer pairs i of ``layer_weights_k[i]`` x ``distill_loss(student
    projection - centre, teacher map - centre)``.

    Args:
        teachers (dict[str, dict] | list[dict]): The teachers by name
            (configs name them, e.g. ``teacher_large``, so a variant
            or ``--cfg-options model.teachers.teacher_large...`` changes one
            by name; a list names them 0, 1, ...). One dict per teacher with
            ``branch`` (a named teacher's neck projection branch; a list's
            teachers take their position);
            ``backbone``: any backbone config MMSeg/mmpretrain builds, with
            ``init_cfg=dict(type='Pretrained', checkpoint=PATH[, prefix])``;
            ``teacher_layers``: teacher block indices (0-based), each among
            that backbone's ``out_indices``;
            ``student_layers``: student block indices, each among the
            student backbone's ``out_indices``, paired with
            ``teacher_layers`` one to one;
            ``weight``: the teacher's weight;
            optional ``layer_weights``: weight of each layer pair (default
            ``(i + 1) / n`` for pair i of n: deeper pairs count more);
            optional ``allow_random_init=True``: accept a teacher without a
            checkpoint (random weights; for tests and benchmarks only).
        distill_loss (dict): Distillation loss, called as
            ``loss(student_map, teacher_map)``.
        distill_weight (float): Weight of all distillation losses.
        seg_weight (float): Weight of the segmentation losses.
        center_momentum (float): Momentum m of the teacher centres, in
            [0, 1).
        teacher_autocast (bool): Run the teachers under bfloat16 autocast
            on the input's device (their maps are cast back to float32).
        grad_ratio_interval (int): Every this many optimizer steps (the
            runner's: it survives ``--resume`` and counts steps, not
            micro-batches, under gradient accumulation), log
            ``distill_grad_ratio``: the norm of the distillation losses'
            gradient on the student backbone's parameters over that of the
            segmentation losses (two extra backward passes through the
            student; 0 disables it). It shows whether distillation still
            shapes the backbone: the reference recipe gives 0.33 at
            initialisation (full size, 224), 0.001 means it is off. Under
            DDP the ratio is this process's own (not all-reduced).
    """

    #: Arguments of the distiller that its student (an ``EncoderDecoder``)
    #: does not take.
    DISTILLER_ARGS = ('teachers', 'distill_loss', 'distill_weight',
                      'seg_weight', 'center_momentum', 'teacher_autocast',
                      'grad_ratio_interval')

    #: State-dict prefixes of the parts that are not the student.
    DISTILLER_ONLY_PREFIXES = ('teachers.', 'teacher_centers.',
                               'distill_loss.')

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 teachers: Union[Mapping[str, dict], Sequence[dict]],
                 neck: Optional[dict] = None,
                 auxiliary_head: Optional[dict] = None,
                 distill_loss: dict = dict(
                     type='ChannelKLDistillLoss', temperature=3.0,
                     loss_weight=256.0),
                 distill_weight: float = 0.3,
                 seg_weight: float = 0.7,
                 center_momentum: float = 0.9,
                 teacher_autocast: bool = False,
                 grad_ratio_interval: int = 50,
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
        self.teacher_names, teachers = _ordered_teachers(teachers)
        branches = self._neck_branches()
        if len(branches) != len(teachers):
            raise ValueError(f'the neck has {len(branches)} projection '
                             f'branches for {len(teachers)} teachers')
        if not 0 <= center_momentum < 1:
            raise ValueError(
                f'center_momentum must be in [0, 1), got {center_momentum}')
        self.distill_weight = float(distill_weight)
        self.seg_weight = float(seg_weight)
        self.center_momentum = float(center_momentum)
        self.teacher_autocast = teacher_autocast
        if grad_ratio_interval < 0:
            raise ValueError('grad_ratio_interval must be >= 0, got '
                             f'{grad_ratio_interval}')
        self.grad_ratio_interval = int(grad_ratio_interval)
        self.distill_loss = MODELS.build(distill_loss)

        # A plain ModuleList: the parent's init_weights does not recurse
        # into the teachers; ``init_weights`` below loads them.
        self.teachers = nn.ModuleList()
        self.teacher_checkpoints = []
        self.teacher_weights = []
        self.layer_weights = []
        self.teacher_positions = []
        self.student_positions = []
        self.teacher_centers = nn.Module()
        for k, (name, spec) in enumerate(zip(self.teacher_names, teachers)):
            spec = self._check_teacher_spec(name, spec)
            teacher = MODELS.build(spec['backbone'])
            width = getattr(teacher, 'embed_dims', None)
            if width is not None and width != branches[k]:
                raise ValueError(
                    f'teachers.{name} has {width} channels but neck branch {k} '
                    f'projects to {branches[k]}: the neck\'s '
                    'branch_channels must list the teachers\' widths in order')
            teacher.requires_grad_(False)
            teacher.eval()  # some backbones' train() returns None
            self.teachers.append(teacher)
            self.teacher_checkpoints.append(spec['checkpoint'])
            self.teacher_weights.append(spec['weight'])
            self.layer_weights.append(spec['layer_weights'])
            self.teacher_positions.append(_output_positions(
                teacher, spec['teacher_layers'], f'teachers.{name}'))
            self.student_positions.append(_output_positions(
                self.backbone, spec['student_layers'], 'student'))
            for i in range(len(spec['teacher_layers'])):
                self.teacher_centers.register_buffer(
                    f't{k}_l{i}', torch.zeros(branches[k]))
        # The neck the student deploys projects only what it fuses; the
        # distiller's also projects the outputs it distils.
        distilled = sorted({p for ps in self.student_positions for p in ps})
        student_neck = set(self.neck.state_dict())
        self.neck = MODELS.build(
            type(self.neck).distillation_config(neck, distilled))
        # What a deployable student's checkpoint lacks by design, group by
        # group: loading one leaves these at their initial values.
        self.student_absent_keys = [
            ['teacher_centers.' + name
             for name, _ in self.teacher_centers.named_buffers()],
            ['neck.' + key for key in self.neck.state_dict()
             if key not in student_neck]]
        self._register_state_dict_hook(self._drop_teacher_weights)
        self.register_load_state_dict_post_hook(self._teachers_not_missing)

    def _neck_branches(self) -> List[int]:
        neck = getattr(self, 'neck', None)
        missing = _missing_neck_contract(type(neck))
        if not hasattr(neck, 'branch_channels'):
            missing.append('branch_channels')
        if missing:
            raise TypeError(
                'DualTeacherDistiller needs a neck that projects the student '
                f'features into each teacher space; {type(neck).__name__} '
                f'lacks {missing} (see the class docstring; CAFM with one '
                'branch per teacher fits)')
        return [int(width) for width in neck.branch_channels]

    @staticmethod
    def _check_teacher_spec(name: str, spec: dict) -> dict:
        missing = [key for key in _TEACHER_KEYS if key not in spec]
        unknown = sorted(set(spec) - set(_TEACHER_KEYS) -
                         set(_OPTIONAL_TEACHER_KEYS))
        if missing or unknown:
            raise KeyError(f'teachers.{name}: missing keys {missing}, unknown '
                           f'keys {unknown}; expected {list(_TEACHER_KEYS)} '
                           f'and optionally {list(_OPTIONAL_TEACHER_KEYS)}')
        teacher_layers = [int(i) for i in spec['teacher_layers']]
        student_layers = [int(i) for i in spec['student_layers']]
        if not teacher_layers or len(teacher_layers) != len(student_layers):
            raise ValueError(
                f'teachers.{name}: teacher_layers {teacher_layers} and '
                f'student_layers {student_layers} must pair up one to one')
        n = len(teacher_layers)
        layer_weights = spec.get('layer_weights')
        if layer_weights is None:
            layer_weights = [(i + 1) / n for i in range(n)]
        if len(layer_weights) != n:
            raise ValueError(f'teachers.{name}: {len(layer_weights)} '
                             f'layer_weights for {n} layer pairs')
        weight = float(spec['weight'])
        if weight < 0:
            raise ValueError(f'teachers.{name}: weight must be >= 0, got '
                             f'{weight}')
        backbone = copy.deepcopy(spec['backbone'])
        checkpoint = _pretrained_checkpoint(backbone)
        if checkpoint is None and not spec.get('allow_random_init', False):
            raise ValueError(
                f'teachers.{name} has no pretrained checkpoint: set its '
                "backbone's init_cfg=dict(type='Pretrained', checkpoint=PATH)"
                ' (allow_random_init=True accepts random weights, for tests)')
        return dict(backbone=backbone, teacher_layers=teacher_layers,
                    student_layers=student_layers, weight=weight,
                    layer_weights=[float(w) for w in layer_weights],
                    checkpoint=checkpoint)

    @classmethod
    def student_config(cls, model_cfg: dict) -> dict:
        """The deployable student's config of a distiller config: a plain
        ``EncoderDecoder`` without ``DISTILLER_ARGS``, whose neck is the
        neck class's ``deployable_config`` (no projection that only
        distillation uses, so every parameter gets a gradient when the
        student is fine-tuned, under DDP too)."""
        student = copy.deepcopy(model_cfg)
        for key in cls.DISTILLER_ARGS:
            student.pop(key, None)
        student['type'] = 'EncoderDecoder'
        neck_cfg = student.get('neck')
        neck_type = (neck_cfg or {}).get('type')
        neck_cls = MODELS.get(neck_type) if isinstance(neck_type, str) \
            else neck_type
        missing = _missing_neck_contract(neck_cls)
        if missing:
            raise TypeError(f'model.neck type {neck_type!r} lacks {missing}: '
                            'not a distiller neck')
        student['neck'] = neck_cls.deployable_config(neck_cfg)
        return student

    @staticmethod
    def _drop_teacher_weights(module, state_dict, prefix, local_metadata):
        for key in [k for k in state_dict
                    if k.startswith(prefix + 'teachers.')]:
            del state_dict[key]
        return state_dict

    @staticmethod
    def _teachers_not_missing(module, incompatible_keys):
        """Teachers are never missing (``init_weights`` loads them), nor a
        group of ``student_absent_keys`` missing whole: a deployable
        student's checkpoint (tools/test.py or fine-tuning with this
        config) is not a mismatch. Part of a group missing still is."""
        missing = incompatible_keys.missing_keys
        missing[:] = [k for k in missing if not _TEACHER_KEY.search(k)]

        def is_one_of(k, keys):  # keys under a wrapper get a prefix
            return any(k == key or k.endswith('.' + key) for key in keys)

        for group in module.student_absent_keys:
            # mmengine never reports BatchNorm counters missing.
            needed = [key for key in group
                      if not key.endswith('num_batches_tracked')]
            if needed and all(any(is_one_of(k, [key]) for k in missing)
                              for key in needed):
                missing[:] = [k for k in missing if not is_one_of(k, group)]

    def init_weights(self):
        """Load every teacher from its checkpoint, then init the student."""
        missing = [
            f'teachers.{name}: checkpoint file {checkpoint[0]} not found'
            for name, checkpoint in zip(self.teacher_names,
                                        self.teacher_checkpoints)
            if checkpoint is not None and '://' not in checkpoint[0]
            and not osp.isfile(checkpoint[0])
        ]
        if missing:
            raise FileNotFoundError('; '.join(missing))
        for name, teacher, checkpoint in zip(
                self.teacher_names, self.teachers, self.teacher_checkpoints):
            if checkpoint is None:
                if hasattr(teacher, 'init_weights'):
                    teacher.init_weights()
            elif hasattr(teacher, 'load_pretrained'):
                teacher.load_pretrained(*checkpoint)
            else:
                self._load_teacher_strictly(name, teacher, *checkpoint)
        super().init_weights()

    @staticmethod
    def _load_teacher_strictly(name, teacher, path, prefix=None):
        checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        state_dict = checkpoint.get('state_dict', checkpoint)
        if prefix:
            state_dict = {key[len(prefix):]: value
                          for key, value in state_dict.items()
                          if key.startswith(prefix)}
        try:
            teacher.load_state_dict(state_dict, strict=True)
        except RuntimeError as error:
            raise KeyError(f'teachers.{name}: checkpoint {path} does not fit '
                           f'{type(teacher).__name__}: {error}') from error

    def train(self, mode: bool = True):
        super().train(mode)
        self.teachers.train(False)
        return self

    def teacher_features(self,
                         inputs: torch.Tensor) -> List[List[torch.Tensor]]:
        """Distilled float32 maps ``[teacher][pair]``, computed without
        gradient (raw, not centred)."""
        autocast = torch.autocast(
            device_type=inputs.device.type, dtype=torch.bfloat16
        ) if self.teacher_autocast else contextlib.nullcontext()
        features = []
        with torch.no_grad(), autocast:
            for teacher, positions in zip(self.teachers,
                                          self.teacher_positions):
                outs = teacher(inputs)
                # An output may be [featmap, class token]: take the map.
                outs = [out[0] if isinstance(out, (list, tuple)) else out
                        for out in outs]
                features.append([outs[p].float() for p in positions])
        return features

    def center(self, k: int, i: int, feat: torch.Tensor) -> torch.Tensor:
        """The centre (1, C, 1, 1) of teacher k's map of pair i, as it was
        before this batch; updates it from ``feat`` when training."""
        center = getattr(self.teacher_centers, f't{k}_l{i}')
        if feat.shape[1] != center.numel():
            raise ValueError(
                f'teachers.{self.teacher_names[k]} gives {feat.shape[1]} '
                f'channels at pair {i} but '
                f'neck branch {k} projects to {center.numel()}')
        used = center.clone()[None, :, None, None]
        if self.training:
            batch_mean = feat.mean(dim=(0, 2, 3))
            all_reduce(batch_mean, op='mean')
            center.mul_(self.center_momentum).add_(
                batch_mean, alpha=1 - self.center_momentum)
        return used

    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        feats = self.backbone(inputs)
        fused, projections = self.neck.forward_with_projections(feats)
        head_losses = self._decode_head_forward_train(fused, data_samples)
        if self.with_auxiliary_head:
            head_losses.update(
                self._auxiliary_head_forward_train(fused, data_samples))
        regularisers = self._regulariser_keys()
        seg = [value for name, value in head_losses.items()
               if 'loss' in name and name not in regularisers]
        losses = {
            name: value * self.seg_weight
            if 'loss' in name and name not in regularisers else value
            for name, value in head_losses.items()
        }

        for k, teacher_maps in enumerate(self.teacher_features(inputs)):
            loss = 0.
            for i, (teacher_map, position) in enumerate(
                    zip(teacher_maps, self.student_positions[k])):
                center = self.center(k, i, teacher_map)
                loss = loss + self.layer_weights[k][i] * self.distill_loss(
                    projections[k][position] - center, teacher_map - center)
            losses[f'loss_distill_t{k}'] = (
                self.distill_weight * self.teacher_weights[k] * loss)

        if is_due(self.grad_ratio_interval) and torch.is_grad_enabled():
            distill = [v for n, v in losses.items()
                       if n.startswith('loss_distill_t')]
            losses['distill_grad_ratio'] = self.backbone_grad_ratio(
                sum(distill), self.seg_weight * sum(seg))
        return losses

    def _regulariser_keys(self) -> set:
        """Loss keys of the heads (as prefixed by ``EncoderDecoder``) that
        keep their own weight: each head's ``REGULARISER_LOSSES``."""
        heads = [('decode.', self.decode_head)]
        aux = self.auxiliary_head if self.with_auxiliary_head else None
        if isinstance(aux, nn.ModuleList):
            heads += [(f'aux_{i}.', head) for i, head in enumerate(aux)]
        elif aux is not None:
            heads.append(('aux.', aux))
        return {prefix + key for prefix, head in heads
                for key in getattr(head, 'REGULARISER_LOSSES', ())}

    def backbone_grad_ratio(self, distill_loss: torch.Tensor,
                            seg_loss: torch.Tensor) -> torch.Tensor:
        """||d distill / d backbone|| / ||d seg / d backbone||, over the
        student backbone's trainable parameters (graph kept for the step's
        own backward)."""
        params = [p for p in self.backbone.parameters() if p.requires_grad]

        def norm(loss):
            grads = torch.autograd.grad(loss, params, retain_graph=True,
                                        allow_unused=True)
            squares = [g.float().pow(2).sum() for g in grads if g is not None]
            return torch.stack(squares).sum().sqrt() if squares else \
                loss.new_zeros(())

        return (norm(distill_loss) / norm(seg_loss).clamp_min(1e-12)).detach()
