import math
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch.nn.utils.parametrizations import spectral_norm as add_spectral_norm

from ...utils.optimizer_step import is_due

# Operator norm of x2 bilinear upsampling in l2: every output pixel is a
# convex combination of inputs (row sums 1) and every input pixel spreads a
# total weight of 4 (column sums 4), so ||U|| <= sqrt(1 * 4) = 2, reached by
# constant images.
UPSAMPLE_NORM = 2.0


def conv_operator_norm_bound(conv: nn.Conv2d) -> torch.Tensor:
    """Upper bound of a convolution's l2 operator norm.

    The output is the kernel matrix W (out, in*k*k) applied to the stack of
    the k*k shifted copies of the input, whose norm is at most sqrt(k*k)
    times the input's, hence ||conv|| <= sqrt(k*k) * sigma_max(W). For a
    1x1 convolution this is exact.
    """
    weight = conv.weight.detach().flatten(1).float()
    taps = conv.weight.shape[2] * conv.weight.shape[3]
    return math.sqrt(taps) * torch.linalg.matrix_norm(weight, ord=2)


@MODELS.register_module()
class LipschitzHead(BaseDecodeHead):
    """Progressive decoder with spectral normalisation and a gradient penalty.

    conv3x3-norm-act blocks (widths ``decoder_channels``) with x2 bilinear
    upsampling after every block but the last, then the 1x1 classifier.
    The block convolutions are spectrally normalised (PyTorch's
    parametrization: the kernel reshaped to (out, in*k*k) is divided by its
    largest singular value, estimated by power iteration in training).

    In training the head also adds ``loss_gp``: the head is re-run on its
    detached input features (so no gradient reaches the backbone or neck),
    the gradient of <logits, v> for a random Gaussian projection v is taken
    w.r.t. those features with ``create_graph=True`` (so the penalty trains
    the head's weights), and its per-sample norm, divided by the square
    root of the number of logits (an RMS of the per-logit gradient norm,
    independent of the resolution), is kept below ``gp_target``:
    ``gp_weight * mean(max(norm - gp_target, 0) ** 2)``, a bound, as a
    Lipschitz constraint is. The reference's two-sided penalty
    ``mean((norm - gp_target) ** 2)`` (``gp_one_sided=False``) also pushes
    a head whose norm is below the target (0.08-0.14 at initialisation in
    the CPU-scale student) to become more sensitive, against its purpose.
    The mean norm is logged as ``gp_grad_norm``. The penalty's double backward costs about one and
    a half training steps of the head; with ``gp_interval=k`` it is
    computed every k-th optimizer step (the runner's, so it survives
    ``--resume`` and counts steps, not micro-batches, under gradient
    accumulation) with k times the weight (lazy regularisation, as in
    StyleGAN2). The penalty is a regulariser, not a segmentation loss: its
    key is listed in ``REGULARISER_LOSSES`` so that a distiller leaves its
    weight alone.

    Args:
        decoder_channels (Sequence[int]): Widths of the decoder blocks.
        spectral_norm (bool | Sequence[bool]): Spectral normalisation of
            each block's conv.
        gp_weight (float): Weight of the gradient penalty (0 disables it).
        gp_target (float): Bound (target, if two-sided) of the normalised
            gradient norm.
        gp_one_sided (bool): Penalise only norms above ``gp_target``.
        gp_interval (int): Compute the penalty every this many optimizer
            steps.
    """

    #: Key of the gradient penalty in the losses.
    PENALTY_LOSS = 'loss_gp'
    #: Loss keys that are regularisers, not segmentation losses.
    REGULARISER_LOSSES = (PENALTY_LOSS, )

    def __init__(self,
                 decoder_channels: Sequence[int] = (512, 256, 128, 64),
                 spectral_norm: Union[bool, Sequence[bool]] = True,
                 gp_weight: float = 0.05,
                 gp_target: float = 0.8,
                 gp_one_sided: bool = True,
                 gp_interval: int = 1,
                 **kwargs):
        if not decoder_channels:
            raise ValueError('decoder_channels needs at least one width')
        channels = kwargs.pop('channels', decoder_channels[-1])
        if channels != decoder_channels[-1]:
            raise ValueError(
                f'channels={channels} must equal the last decoder width '
                f'{decoder_channels[-1]}')
        super().__init__(channels=channels, **kwargs)
        if isinstance(spectral_norm, bool):
            spectral_norm = [spectral_norm] * len(decoder_channels)
        if len(spectral_norm) != len(decoder_channels):
            raise ValueError(
                f'spectral_norm has {len(spectral_norm)} entries for '
                f'{len(decoder_channels)} decoder blocks')
        self.decoder_channels = list(decoder_channels)
        self.spectral_norm = list(spectral_norm)
        self.gp_weight = gp_weight
        self.gp_target = gp_target
        self.gp_one_sided = gp_one_sided
        if gp_interval < 1:
            raise ValueError(f'gp_interval must be >= 1, got {gp_interval}')
        self.gp_interval = gp_interval
        if self.needs_double_backward and self.norm_cfg and \
                'SyncBN' in self.norm_cfg.get('type', ''):
            raise ValueError(
                'LipschitzHead: norm_cfg type SyncBN cannot train the '
                'gradient penalty (SyncBatchNorm has no double backward); '
                "use type='BN' (the config's sync_bn syncs the rest of the "
                'model on multiple GPUs)')
        self.blocks = nn.ModuleList()
        in_channels = self.in_channels
        for width, normalised in zip(decoder_channels, spectral_norm):
            block = ConvModule(
                in_channels,
                width,
                3,
                padding=1,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg)
            if normalised:
                add_spectral_norm(block.conv)
            self.blocks.append(block)
            in_channels = width

    @property
    def needs_double_backward(self) -> bool:
        """Training differentiates the input gradient (the penalty), so
        the BatchNorm layers stay per-process BatchNorm under ``sync_bn``
        (DeviceAwareRunner): SyncBatchNorm has no double backward."""
        return self.gp_weight > 0

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the decoder's resolution from the selected features."""
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index < len(self.blocks) - 1:
                x = resize(x, scale_factor=2, mode='bilinear',
                           align_corners=self.align_corners)
        return self.cls_seg(x)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        return self.decode(self._transform_inputs(inputs))

    def input_gradient_norm(self, feats: torch.Tensor,
                            create_graph: bool) -> torch.Tensor:
        """Per-sample RMS norm of the logits' input gradient (see class)."""
        feats = feats.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = self.decode(feats)
            projection = torch.randn_like(logits)
            (grad, ) = torch.autograd.grad(
                (logits * projection).sum(), feats, create_graph=create_graph)
        per_logit = math.sqrt(logits[0].numel())
        return grad.flatten(1).float().norm(dim=1) / per_logit

    def loss(self, inputs: Tuple[torch.Tensor], batch_data_samples,
             train_cfg) -> dict:
        feats = self._transform_inputs(inputs)
        losses = self.loss_by_feat(self.decode(feats), batch_data_samples)
        if self.gp_weight > 0 and is_due(self.gp_interval):
            norm = self.input_gradient_norm(feats, create_graph=True)
            excess = norm - self.gp_target
            if self.gp_one_sided:
                excess = excess.clamp_min(0)
            losses[self.PENALTY_LOSS] = self.gp_weight * self.gp_interval * (
                excess**2).mean()
            losses['gp_grad_norm'] = norm.detach().mean()
        return losses

    def lipschitz_bound(self) -> float:
        """Upper bound of the head's l2 Lipschitz constant (eval mode).

        Product of: each conv's operator-norm bound (see
        ``conv_operator_norm_bound``), each BatchNorm's largest
        |gamma| / sqrt(running_var + eps), 2 for each x2 bilinear
        upsampling, and the classifier's matrix norm; activations
        (ReLU-like) and dropout in eval mode are 1-Lipschitz.
        """
        bound = torch.tensor(1.0)
        for index, block in enumerate(self.blocks):
            bound = bound * conv_operator_norm_bound(block.conv)
            norm = getattr(block, 'norm', None) if block.with_norm else None
            if isinstance(norm, nn.modules.batchnorm._BatchNorm):
                scale = norm.running_var.detach().add(norm.eps).rsqrt()
                if norm.weight is not None:
                    scale = scale * norm.weight.detach().abs()
                bound = bound * scale.max()
            elif norm is not None:
                raise NotImplementedError(
                    f'no Lipschitz bound for {type(norm).__name__}')
            if index < len(self.blocks) - 1:
                bound = bound * UPSAMPLE_NORM
        bound = bound * conv_operator_norm_bound(self.conv_seg)
        return float(bound)
