"""The calibration that travels with a checkpoint: decision threshold and
test-time input scale.

``tools/choose_threshold.py`` and ``tools/adapt.py`` store them in the
checkpoint's meta (``decision_threshold``, ``test_scale``); every way of
loading a model for prediction applies them, unless given explicitly. The
threshold lives on the decode head (``threshold``), the scale on the
``CrackDataPreProcessor`` (``test_scale``: the photo is resized by it
before the model sees it, and the prediction resized back).
"""
import os.path as osp
from typing import Optional

import torch

from .atomic_files import save_atomically

THRESHOLD_KEY = 'decision_threshold'
SCALE_KEY = 'test_scale'
#: The input scales calibration chooses from.
SCALE_GRID = (0.5, 0.75, 1.0, 1.5, 2.0)


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


def check_scale(value, where: str) -> float:
    """``value`` as a float in [0.25, 4], or a ValueError naming ``where``
    (beyond that a photo is either a few patches or too large to hold)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{where}: the test-time scale must be a number, '
                         f'got {value!r}') from None
    if not 0.25 <= value <= 4:
        raise ValueError(f'{where}: the test-time scale must be in '
                         f'[0.25, 4], got {value}')
    return value


def stored_calibration(checkpoint: dict, where: str = 'checkpoint') -> dict:
    """``{'threshold': ..., 'scale': ...}`` stored in a loaded checkpoint's
    meta (None for what it does not store), each checked."""
    meta = (checkpoint or {}).get('meta') or {}
    threshold, scale = meta.get(THRESHOLD_KEY), meta.get(SCALE_KEY)
    return dict(
        threshold=None if threshold is None else check_threshold(
            threshold, f'{where}: meta[{THRESHOLD_KEY!r}]'),
        scale=None if scale is None else check_scale(
            scale, f'{where}: meta[{SCALE_KEY!r}]'))


def _load(path: str) -> dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:
        raise ValueError(f'{path} is not a readable checkpoint (cut short or '
                         f'not a torch file): {e}') from e
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise KeyError(f'{path}: expected a checkpoint with a "state_dict"')
    return checkpoint


def read_calibration(path: str) -> dict:
    """The calibration stored in a checkpoint file.

    Args:
        path (str): The checkpoint file.

    Returns:
        dict: ``threshold`` and ``scale``, None where not stored.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it is not a readable checkpoint, or a stored value
            is out of range.
        KeyError: If it has no ``state_dict``.
    """
    return stored_calibration(_load(path), path)


def write_calibration(path: str, out: Optional[str] = None,
                      threshold: Optional[float] = None,
                      scale: Optional[float] = None, **meta) -> str:
    """Store a calibration in a checkpoint's meta, written atomically (a
    failure leaves both files intact); weights and the rest are kept.

    Args:
        path (str): The checkpoint file read.
        out (str, optional): The file written. Defaults to ``path``.
        threshold (float, optional): The decision threshold, in (0, 1).
        scale (float, optional): The test-time scale, in [0.25, 4].
        **meta: Further meta entries (the adaptation's record).

    Returns:
        str: The path written.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it is not a readable checkpoint, or a value is out
            of range.
    """
    checkpoint = _load(path)
    stored = checkpoint.setdefault('meta', {})
    if threshold is not None:
        stored[THRESHOLD_KEY] = check_threshold(threshold, path)
    if scale is not None:
        stored[SCALE_KEY] = check_scale(scale, path)
    stored.update(meta)
    return save_atomically(checkpoint, out or path)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The segmentor inside DDP/TTA wrappers (``.module``)."""
    while not hasattr(model, 'decode_head') and hasattr(model, 'module'):
        model = model.module
    if not hasattr(model, 'decode_head'):
        raise TypeError(f'{type(model).__name__} has no decode_head')
    return model


def apply_calibration(model: torch.nn.Module,
                      threshold: Optional[float] = None,
                      scale: Optional[float] = None) -> dict:
    """Give a segmentor a decision threshold and test-time scale.

    Args:
        model (torch.nn.Module): A segmentor, or a wrapper of one.
        threshold (float, optional): Set when not None.
        scale (float, optional): Set when not None; other than 1 it needs a
            preprocessor that resizes (``scalable_config`` gives every
            config one).

    Returns:
        dict: The ``threshold`` and ``scale`` now in use.

    Raises:
        ValueError: If a value is out of range.
        TypeError: If a scale other than 1 meets a preprocessor that cannot
            resize.
    """
    segmentor = _unwrap(model)
    if threshold is not None:
        segmentor.decode_head.threshold = check_threshold(
            threshold, 'threshold')
    preprocessor = getattr(segmentor, 'data_preprocessor', None)
    if scale is not None:
        scale = check_scale(scale, 'scale')
        if hasattr(preprocessor, 'test_scale'):
            preprocessor.test_scale = scale
        elif scale != 1:  # a scale of 1 is what every preprocessor does
            raise TypeError(
                f'{type(preprocessor).__name__} cannot resize test inputs '
                f'by {scale}: build the model from '
                'crackdino_mm.apis.scalable_config(cfg), which makes its '
                "preprocessor a 'CrackDataPreProcessor'")
    return dict(threshold=float(segmentor.decode_head.threshold),
                scale=float(getattr(preprocessor, 'test_scale', 1.0)))
