import torch.nn as nn
from mmseg.registry import MODELS

from ...utils import crack_probability


@MODELS.register_module()
class BinaryDiceLoss(nn.Module):
    """Soft Dice loss of the foreground (crack) probability.

    Works on a 1-channel sigmoid output as well as on a 2-class softmax
    output (channel 1), ignoring pixels labelled ``ignore_index``. MMSeg's
    ``DiceLoss`` one-hot encodes the labels against the number of output
    channels, which for a 1-channel output makes the background the target.

    Args:
        smooth (float): Added to numerator and denominator.
        per_image (bool): Average the Dice of each image (True) or compute
            one Dice over the whole batch (False, stable when some images
            have no crack).
        loss_weight (float): Weight of the loss.
        loss_name (str): Name in the loss dict; must contain ``loss_``.
    """

    def __init__(self,
                 smooth: float = 1.0,
                 per_image: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice'):
        super().__init__()
        self.smooth = smooth
        self.per_image = per_image
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred, target, weight=None, ignore_index=255, **kwargs):
        prob = crack_probability(pred, dim=1)
        valid = (target != ignore_index).to(prob.dtype)
        truth = (target == 1).to(prob.dtype) * valid
        prob = prob * valid
        dims = (1, 2) if self.per_image else (0, 1, 2)
        overlap = (prob * truth).sum(dims)
        total = prob.sum(dims) + truth.sum(dims)
        dice = (2 * overlap + self.smooth) / (total + self.smooth)
        return self.loss_weight * (1 - dice).mean()

    @property
    def loss_name(self):
        return self._loss_name
