import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.utils import resize
from mmseg.registry import MODELS


def align_to_teacher(student: torch.Tensor,
                     teacher: torch.Tensor) -> torch.Tensor:
    """Resize a student map (bilinear) to the teacher map's spatial size."""
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

    At every position both maps are L2-normalised over channels, turned into
    distributions over channels by softmax(x / T), and compared with
    KL(teacher || student), multiplied by T^2. Unlike a sum over positions
    (the reference's ``batchmean`` on whole maps), the KL is averaged over
    positions and images, so its scale does not depend on the resolution.
    """

    def __init__(self,
                 temperature: float = 3.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_kd'):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        student = align_to_teacher(student.float(), teacher.float())
        t = self.temperature
        log_p_student = F.log_softmax(
            F.normalize(student, dim=1) / t, dim=1)
        log_p_teacher = F.log_softmax(
            F.normalize(teacher.float(), dim=1) / t, dim=1)
        kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(1)
        return self.loss_weight * kl.mean() * t * t

    @property
    def loss_name(self):
        return self._loss_name
