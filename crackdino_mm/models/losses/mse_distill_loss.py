import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS

from .channel_kl_distill_loss import align_to_teacher


@MODELS.register_module()
class MSEDistillLoss(nn.Module):
    """Mean squared error between feature maps (the student map resized to
    the teacher's first), averaged over all elements.

    With ``normalize=True`` (default) both maps are L2-normalised over
    channels first, which makes the loss independent of the two feature
    spaces' scales.
    """

    def __init__(self,
                 normalize: bool = True,
                 loss_weight: float = 1.0):
        super().__init__()
        self.normalize = normalize
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        student = align_to_teacher(student.float(), teacher.float())
        teacher = teacher.float()
        if self.normalize:
            student = F.normalize(student, dim=1)
            teacher = F.normalize(teacher, dim=1)
        return self.loss_weight * F.mse_loss(student, teacher)
