"""One way to get a deployable model: the student alone, strictly loaded,
with the checkpoint's calibration applied."""
import copy
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import CheckpointLoader, load_state_dict
from mmseg.registry import MODELS

from ..models.segmentors import DualTeacherDistiller
from ..utils import (apply_calibration, check_scale, check_threshold,
                     stored_calibration)


PLAIN_PREPROCESSORS = ('SegDataPreProcessor', 'mmseg.SegDataPreProcessor')


def scalable_config(cfg: Config) -> Config:
    """``cfg`` (a copy) whose model can take a test-time scale: the one
    place that decides how a checkpoint's scale reaches a config. MMSeg's
    ``SegDataPreProcessor`` becomes ``CrackDataPreProcessor``, which does
    the same at scale 1 and can also resize test inputs, so any model (a
    user's own MMSeg config, a SegFormer, a TTA-wrapped model) takes a
    site's calibration; a TTA wrapper predicts with the model's own
    preprocessor; ``custom_imports`` gains this package so that the
    config builds in MMSeg's own tools too.

    Args:
        cfg (Config): A segmentation config (not changed).

    Returns:
        Config: The changed copy.
    """
    cfg = copy.deepcopy(cfg)
    model, wrappers = cfg.model, []
    while model.get('module') is not None and \
            model.get('data_preprocessor') is None:  # a TTA wrapper
        wrappers.append(model)
        model = model.module
    preprocessor = model.get('data_preprocessor')
    if (preprocessor or {}).get('type') in PLAIN_PREPROCESSORS:
        preprocessor['type'] = 'CrackDataPreProcessor'
    # mmengine's Runner gives a TTA wrapper the config's top-level
    # preprocessor, which replaces the wrapped model's own (its padding,
    # its scale): the wrapper passes the model's own on instead.
    for wrapper in wrappers:
        if preprocessor is not None:
            wrapper['data_preprocessor'] = copy.deepcopy(preprocessor)
    imports = cfg.get('custom_imports') or dict(imports=[])
    if 'crackdino_mm' not in imports.get('imports', []):
        cfg.custom_imports = dict(
            imports, imports=[*imports.get('imports', []), 'crackdino_mm'],
            allow_failed_imports=False)
    return cfg


def deployable_config(cfg: Config) -> Config:
    """``cfg`` with its model replaced by what predicts: a distiller's
    student alone (a plain ``EncoderDecoder``), anything else as it is,
    able to take a test-time scale (``scalable_config``).

    Args:
        cfg (Config): A segmentor or ``DualTeacherDistiller`` config (not
            changed).

    Returns:
        Config: The deployable copy.
    """
    cfg = copy.deepcopy(cfg)
    if cfg.model.get('type') == 'DualTeacherDistiller':
        cfg.model = DualTeacherDistiller.student_config(cfg.model)
    return scalable_config(cfg)


def calibrated_config(cfg: Config, threshold: Optional[float] = None,
                      scale: Optional[float] = None) -> Config:
    """The deployable config of ``cfg`` that predicts at ``threshold`` and
    test-time ``scale`` (those not None) by itself, for MMSeg's
    ``init_model``, ``inference_model`` and inferencer, which read no
    checkpoint meta.

    Args:
        cfg (Config): A segmentor or distiller config (not changed).
        threshold (float, optional): Decision threshold in (0, 1), set on
            ``model.decode_head``. Defaults to None (the config's).
        scale (float, optional): Test-time input scale in [0.25, 4], set
            in ``model.data_preprocessor.test_cfg``. Defaults to None (the
            config's).

    Returns:
        Config: The deployable, calibrated copy.

    Raises:
        ValueError: If ``threshold`` or ``scale`` is out of range.
        TypeError: If ``scale`` is not 1 and the config's preprocessor is
            neither MMSeg's ``SegDataPreProcessor`` nor
            ``CrackDataPreProcessor``.
    """
    cfg = deployable_config(cfg)
    if threshold is not None:
        cfg.model.decode_head.threshold = check_threshold(threshold,
                                                          'threshold')
    if scale is not None:
        scale = check_scale(scale, 'scale')
        preprocessor = cfg.model.get('data_preprocessor') or {}
        if preprocessor.get('type') == 'CrackDataPreProcessor':
            preprocessor['test_cfg'] = dict(
                preprocessor.get('test_cfg') or {}, scale=scale)
        elif scale != 1:
            raise TypeError(
                f'{cfg.filename}: model.data_preprocessor must be a '
                f'SegDataPreProcessor to take a test-time scale of {scale}, '
                f'got {preprocessor.get("type")!r}')
    return cfg


def deployable_state_dict(checkpoint: dict, where: str) -> dict:
    """The student's weights of a loaded distiller or student checkpoint
    (teachers, feature centres and distillation buffers dropped).

    Args:
        checkpoint (dict): A loaded checkpoint (its ``state_dict`` is
            used) or a state dict itself.
        where (str): What names the checkpoint in the error (its path).

    Returns:
        dict: The student's state dict (parameter name to tensor).

    Raises:
        KeyError: If there is no state dict with ``backbone.`` weights.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else None
    if not isinstance(state, dict) or not any(
            key.startswith('backbone.') for key in state):
        raise KeyError(f'{where}: expected a segmentor checkpoint with '
                       '"backbone." weights in its "state_dict"')
    return {key: value for key, value in state.items()
            if not key.startswith(DualTeacherDistiller.DISTILLER_ONLY_PREFIXES)}


def load_checkpoint_file(path: str) -> dict:
    """A checkpoint file, or an error naming it when it is missing or cut
    short.

    Args:
        path (str): The checkpoint file (anything mmengine's
            ``CheckpointLoader`` reads).

    Returns:
        dict: The checkpoint as loaded, its tensors on the CPU.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it cannot be read as a checkpoint.
    """
    try:
        return CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except FileNotFoundError:
        raise FileNotFoundError(f'checkpoint {path} does not exist') from None
    except Exception as e:
        raise ValueError(f'{path} is not a readable checkpoint (cut short or '
                         f'not a torch file): {e}') from e


def init_crack_model(config: Union[str, Config],
                     checkpoint: Optional[str] = None,
                     device: str = 'cpu',
                     threshold: Optional[float] = None,
                     scale: Optional[float] = None,
                     cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """The deployable model of ``config`` with ``checkpoint``'s weights.

    A distiller config or checkpoint gives its student alone; the weights
    load with strict keys (a wrong checkpoint is an error naming both
    files, not a half-random model). The decision threshold and test-time
    scale are ``threshold``/``scale`` if given, else the checkpoint's
    (``tools/choose_threshold.py``, ``tools/adapt.py``), else the config's.
    The model is in eval mode on ``device``, with ``model.cfg`` set as
    MMSeg's ``init_model`` sets it.

    Args:
        config (str | Config): The config file or config.
        checkpoint (str, optional): The checkpoint file. Defaults to None:
            weights as the config initialises them.
        device (str): Where the model goes. Defaults to ``'cpu'``.
        threshold (float, optional): Decision threshold in (0, 1) to use
            instead of the stored one. Defaults to None.
        scale (float, optional): Test-time input scale in [0.25, 4] to use
            instead of the stored one. Defaults to None.
        cfg_options (dict, optional): Merged into the config before the
            model is built, as ``--cfg-options`` is. Defaults to None.

    Returns:
        torch.nn.Module: The segmentor, calibrated, in eval mode.

    Raises:
        FileNotFoundError: If ``checkpoint`` does not exist.
        KeyError: If ``checkpoint`` holds no segmentor weights.
        ValueError: If ``checkpoint`` cannot be read or does not fit the
            model, or a threshold or scale (given or stored) is out of
            range.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else \
        copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg = deployable_config(cfg)
    cfg.model.train_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    stored = dict(threshold=None, scale=None)
    if checkpoint:
        loaded = load_checkpoint_file(checkpoint)
        try:
            load_state_dict(model,
                            deployable_state_dict(loaded, checkpoint),
                            strict=True)
        except RuntimeError as e:
            raise ValueError(f'{checkpoint} does not fit the model of '
                             f'{cfg.filename}: {e}') from None
        stored = stored_calibration(loaded, checkpoint)
        meta = loaded.get('meta') or {}
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    apply_calibration(
        model, threshold if threshold is not None else stored['threshold'],
        scale if scale is not None else stored['scale'])
    model.cfg = cfg
    return model.to(device).eval()
