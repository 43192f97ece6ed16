import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.utils import resize
from mmseg.registry import MODELS


def align_to_teacher(student: torch.Tensor,
                     teacher: torch.Tensor) -> torch.Tensor:
    """Resize a student map (bilinear) to the teacher map's spatial size;
    their channels must already agree."""
    if student.dim() != 4 or teacher.dim() != 4 or \
            student.shape[0] != teacher.shape[0]:
        raise ValueError('expected student and teacher maps (N, C, H, W) of '
                         f'the same batch, got {tuple(student.shape)} and '
                         f'{tuple(teacher.shape)}')
    if student.shape[2:] != teacher.shape[2:]:
        student = resize(student, size=teacher.shape[2:], mode='bilinear',
                         align_corners=False)
    if student.shape[1] != teacher.shape[1]:
        raise ValueError(f'student map has {student.shape[1]} channels, '
                         f'teacher map {teacher.shape[1]}: project the '
                         'student into the teacher space first')
    return student


@MODELS.register_module()
class ChannelKLDistillLoss(nn.Module):
    """Channel-wise KL divergence of temperature-softened feature maps.

    The student map is first resized (bilinear) to the teacher map's size.
    At every position both maps are L2-normalised over channels and turned
    into distributions over channels by ``softmax(x / T)``; the loss is
    ``KL(teacher || student)`` (summed over channels) times ``T ** 2``.
    On unit vectors of C channels this is about ``(1 - cos) / C`` for any
    T, i.e. a scaled cosine loss; ``normalize=False`` softens the raw
    (centred) maps instead, so that T and the features' norm matter.

    Args:
        temperature (float): Softmax temperature T.
        reduction (str): ``'mean'``: the KL is averaged over images and
            positions (every position is one sample), so the scale does not
            depend on the resolution. ``'batchmean'``: summed over positions
            and divided by the number of images, as ``F.kl_div(...,
            reduction='batchmean')`` on whole maps in the reference.
        normalize (bool): L2-normalise both maps over channels first.
        loss_weight (float): Weight of the loss.
    """

    def __init__(self,
                 temperature: float = 3.0,
                 reduction: str = 'mean',
                 normalize: bool = True,
                 loss_weight: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if reduction not in ('mean', 'batchmean'):
            raise ValueError("reduction must be 'mean' or 'batchmean', got "
                             f'{reduction!r}')
        self.temperature = temperature
        self.reduction = reduction
        self.normalize = normalize
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        teacher = teacher.float()
        student = align_to_teacher(student.float(), teacher)
        if self.normalize:
            student = F.normalize(student, dim=1)
            teacher = F.normalize(teacher, dim=1)
        t = self.temperature
        log_p_student = F.log_softmax(student / t, dim=1)
        log_p_teacher = F.log_softmax(teacher / t, dim=1)
        kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(1)
        if self.reduction == 'mean':
            kl = kl.mean()
        else:
            kl = kl.sum() / kl.shape[0]
        return self.loss_weight * kl * t * t
