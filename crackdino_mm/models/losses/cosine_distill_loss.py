import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS

from .channel_kl_distill_loss import align_to_teacher


@MODELS.register_module()
class CosineDistillLoss(nn.Module):
    """1 - cosine similarity over channels, averaged over images and
    positions (the student map resized to the teacher's first)."""

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        student = align_to_teacher(student.float(), teacher.float())
        cosine = F.cosine_similarity(student, teacher.float(), dim=1)
        return self.loss_weight * (1 - cosine).mean()
