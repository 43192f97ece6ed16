"""The decision threshold that travels with a checkpoint.

A threshold chosen on validation data (``tools/choose_threshold.py``) is
stored as ``meta['decision_threshold']`` in the checkpoint; the tools, the
``DecisionThresholdHook`` and ``CrackInferencer`` apply it to the decode
head when they load the checkpoint, unless a threshold is given explicitly.
"""
from typing import Optional

import torch
from mmengine.runner import CheckpointLoader

META_KEY = 'decision_threshold'


def check_threshold(value, where: str) -> float:
    """``value`` as a float in (0, 1), or a ValueError naming ``where``."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{where}: the decision threshold must be a number '
                         f'in (0, 1), got {value!r}') from None
    if not 0 < value < 1:
        raise ValueError(f'{where}: the decision threshold must be in '
                         f'(0, 1), got {value}')
    return value


def meta_threshold(checkpoint: dict, where: str = 'checkpoint'
                   ) -> Optional[float]:
    """The threshold stored in a loaded checkpoint's meta, or None."""
    value = (checkpoint or {}).get('meta', {}).get(META_KEY)
    return None if value is None else check_threshold(
        value, f'{where}: meta[{META_KEY!r}]')


def read_threshold(path: str) -> Optional[float]:
    """The threshold stored in the checkpoint file ``path``, or None."""
    return meta_threshold(
        CheckpointLoader.load_checkpoint(path, map_location='cpu'), path)


def write_threshold(path: str, threshold: float,
                    out: Optional[str] = None) -> None:
    """Store ``threshold`` in the meta of checkpoint ``path`` (in place, or
    written to ``out``); weights and everything else are kept."""
    threshold = check_threshold(threshold, path)
    checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise KeyError(f'{path}: expected a checkpoint with a "state_dict"')
    checkpoint.setdefault('meta', {})[META_KEY] = threshold
    torch.save(checkpoint, out or path)


def decode_head_of(model: torch.nn.Module) -> torch.nn.Module:
    """The decode head of a segmentor, also inside wrappers and TTA."""
    while not hasattr(model, 'decode_head') and hasattr(model, 'module'):
        model = model.module
    if not hasattr(model, 'decode_head'):
        raise TypeError(f'{type(model).__name__} has no decode_head')
    return model.decode_head


def set_threshold(model: torch.nn.Module, threshold: float) -> None:
    """Set the decision threshold of a segmentor's decode head."""
    decode_head_of(model).threshold = check_threshold(threshold, 'threshold')


def apply_threshold(model: torch.nn.Module, checkpoint: Optional[str],
                    threshold: Optional[float] = None) -> float:
    """Give ``model`` the threshold ``threshold`` if set, else the one of
    checkpoint file ``checkpoint`` if it has one, else leave the config's;
    return the threshold in use."""
    if threshold is None and checkpoint:
        threshold = read_threshold(checkpoint)
    if threshold is not None:
        set_threshold(model, threshold)
    return float(decode_head_of(model).threshold)
