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
    config builds in MMSeg's own tools too."""
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
    able to take a test-time scale (``scalable_config``)."""
    cfg = copy.deepcopy(cfg)
    if cfg.model.get('type') == 'DualTeacherDistiller':
        cfg.model = DualTeacherDistiller.student_config(cfg.model)
    return scalable_config(cfg)


def calibrated_config(cfg: Config, threshold: Optional[float] = None,
                      scale: Optional[float] = None) -> Config:
    """The deployable config of ``cfg`` that predicts at ``threshold`` and
    test-time ``scale`` (those not None) by itself, for MMSeg's
    ``init_model``, ``inference_model`` and inferencer, which read no
    checkpoint meta."""
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
    (teachers, feature centres and distillation buffers dropped)."""
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
    short."""
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
