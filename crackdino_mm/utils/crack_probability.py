"""Crack probability from a head's output: the one place that knows a
1-channel head is a sigmoid and a 2-class head a softmax."""
import torch


def crack_probability(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Crack probability of raw head logits, the class dimension ``dim``
    removed: the sigmoid of 1 channel, channel 1 of a 2-class softmax.

    Args:
        logits (torch.Tensor): Head logits with 1 or 2 channels along
            ``dim``.
        dim (int): The class dimension. Defaults to 1 (N, C, H, W).

    Returns:
        torch.Tensor: float32 probabilities, ``dim`` removed.

    Raises:
        ValueError: If ``logits`` has neither 1 nor 2 channels.
    """
    channels = logits.shape[dim]
    if channels == 1:
        return logits.float().sigmoid().squeeze(dim)
    if channels != 2:
        raise ValueError(f'a crack head has 1 or 2 output channels, got '
                         f'{channels}')
    return logits.float().softmax(dim=dim).select(dim, 1)


def seg_logits_probability(seg_logits: torch.Tensor) -> torch.Tensor:
    """Crack probability (H, W) of a data sample's ``seg_logits`` (C, H, W):
    MMSeg already stores the sigmoid there for a 1-channel head, and logits
    for 2 classes.

    Args:
        seg_logits (torch.Tensor): A data sample's ``seg_logits.data``
            (C, H, W) with 1 or 2 channels.

    Returns:
        torch.Tensor: (H, W; float32) crack probability.

    Raises:
        ValueError: If ``seg_logits`` has neither 1 nor 2 channels.
    """
    if seg_logits.shape[0] == 1:
        return seg_logits[0].float()
    return crack_probability(seg_logits, dim=0)
