from .binary_dice_loss import BinaryDiceLoss
from .channel_kl_distill_loss import ChannelKLDistillLoss
from .cosine_distill_loss import CosineDistillLoss
from .mse_distill_loss import MSEDistillLoss

__all__ = [
    'BinaryDiceLoss', 'ChannelKLDistillLoss', 'CosineDistillLoss',
    'MSEDistillLoss'
]
