"""Adapt a trained crack model to a new site (camera, surface, crack width
in pixels) with a few labelled photos or none."""
import math
import os.path as osp
import tempfile
import time
import warnings
from typing import Optional, Sequence, Union

from mmengine.config import Config
from mmengine.runner import Runner, load_state_dict

from ..utils import SCALE_GRID, apply_calibration, check_scale, \
    save_atomically
from .calibration_default import default_rule
from .model_loader import (deployable_config, deployable_state_dict,
                           init_crack_model, load_checkpoint_file)
from .site_calibration import choose_calibration
from .site_finetune import blocks_to_train, finetune_config
from .site_norm_stats import reestimate_norm_stats
from .site_photos import load_site_photos, photo_key, site_keys

#: Most unlabelled photos read (``max_unlabelled``), for the normalisation
#: statistics and the distillation: the count the site experiments used,
#: enough for a stable mean and variance; more only costs time.
MAX_UNLABELLED = 64
#: Fewest labelled photos from which leave-one-site-out chose fine-tuning
#: over every calibration rule (``benchmarks/site_adaptation_cpu.py``,
#: checked by ``tests/test_calibration_default.py``): from it the tool
#: fine-tunes by default; asked to on fewer, it warns.
MIN_FINETUNE_PHOTOS = 10
#: Fine-tuning steps taken by default: the step that was measured.
FINETUNE_ITERS = 100


def default_finetune_iters(num_photos: int) -> int:
    """The fine-tuning steps ``adapt_to_site`` takes unless told:
    ``FINETUNE_ITERS`` from ``MIN_FINETUNE_PHOTOS`` labelled photos, else
    none."""
    return FINETUNE_ITERS if num_photos >= MIN_FINETUNE_PHOTOS else 0


def adapt_to_site(config: Union[str, Config], checkpoint: str, out: str,
                  images: Optional[str] = None,
                  masks: Optional[str] = None,
                  unlabelled: Optional[str] = None,
                  k: Optional[int] = None, seed: int = 0,
                  max_unlabelled: int = MAX_UNLABELLED,
                  finetune_iters: Optional[int] = None,
                  distiller_config: Union[str, Config, None] = None,
                  train_blocks: Optional[int] = None,
                  scales: Optional[Sequence[float]] = None,
                  min_gain: Optional[float] = None,
                  scale_min_gain: Optional[float] = None,
                  norm_stats: bool = True,
                  work_dir: Optional[str] = None, device: str = 'cpu',
                  cfg_options: Optional[dict] = None) -> dict:
    """Adapt the model of ``config``/``checkpoint`` to a site and write
    the deployable student, its weights and calibration, to ``out``.

    Steps, each only when its photos are given:

    1. Calibration on ``k`` labelled photos (``images``/``masks``, drawn
       with ``seed``; all if ``k`` is None): the test-time scale of
       ``scales`` and the decision threshold with the best F pooled over
       them, kept only if its F on them beats the checkpoint's stored
       calibration by ``min_gain`` F points, and a new scale only if it
       beats the best threshold at the stored scale by
       ``scale_min_gain``. What is not given follows ``default_rule`` for
       the number of photos: the rule chosen on eight sites that made
       none of them worse for any of three source models.
    2. Label-free: the BatchNorm statistics re-estimated on ``unlabelled``
       photos (``norm_stats``): at most ``max_unlabelled`` of them, drawn
       with ``seed``, the same ones the distillation reads.
    3. ``finetune_iters`` steps of fine-tuning on the labelled photos
       (neck, head, last ``train_blocks`` DINOv2 blocks, default 4; other
       backbones whole), by default ``FINETUNE_ITERS`` from
       ``MIN_FINETUNE_PHOTOS`` photos, the step chosen there on eight
       sites; with ``unlabelled``
       photos and a distiller (``config`` or ``distiller_config``), the
       dual-teacher distillation runs on them as well. The threshold is
       chosen again afterwards.

    ``checkpoint`` is never written (unless ``out`` names it). Every photo
    is read and checked before the model is loaded.

    Args:
        config (str | Config): The model's config file or config (a
            distiller's gives its student).
        checkpoint (str): The model's checkpoint.
        out (str): The checkpoint to write: the student's weights, with the
            calibration and the record in its meta.
        images (str, optional): Folder of labelled photos. Defaults to None.
        masks (str, optional): Folder of their masks, paired by name; given
            with ``images`` or not at all. Defaults to None.
        unlabelled (str, optional): Folder of unlabelled photos. Defaults
            to None.
        k (int, optional): How many labelled photos to draw. Defaults to
            None: all.
        seed (int): Seed of the draws and of fine-tuning. Defaults to 0.
        max_unlabelled (int): Most unlabelled photos read. Defaults to
            ``MAX_UNLABELLED``.
        finetune_iters (int, optional): Fine-tuning steps; 0 for none (a
            warning below ``MIN_FINETUNE_PHOTOS`` labelled photos).
            Defaults to None: ``default_finetune_iters`` of the labelled
            photos.
        distiller_config (str | Config, optional): The
            ``DualTeacherDistiller`` config whose teachers distil on
            ``unlabelled`` during fine-tuning, when ``config`` is not one.
            Defaults to None.
        train_blocks (int, optional): Last DINOv2 blocks fine-tuned (other
            backbones: leave None). Defaults to None: 4.
        scales (Sequence[float], optional): Test-time scales calibration
            tries, each in [0.25, 4]. Defaults to None: ``SCALE_GRID`` if
            the default rule may change the scale, else the stored scale.
        min_gain (float, optional): F points by which the chosen
            calibration must beat the stored one to replace it (``inf``:
            never). Defaults to None: the default rule's.
        scale_min_gain (float, optional): F points by which a new scale
            must beat the best threshold at the stored scale (``inf``:
            never). Defaults to None: the default rule's, or 0 when
            ``scales`` are given.
        norm_stats (bool): Re-estimate the BatchNorm statistics on
            ``unlabelled``. Defaults to True.
        work_dir (str, optional): Folder of the fine-tuning run, kept.
            Defaults to None: a temporary folder, removed afterwards.
        device (str): Where the model runs. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Merged into ``config`` first.
            Defaults to None.

    Returns:
        dict: The record stored in ``out``'s meta (``site_adaptation``):
        the ``labelled`` photo keys, the number of ``unlabelled`` photos,
        ``max_unlabelled``, ``seed``, one entry per step run in ``steps``
        (``calibration``, ``norm_stats``, ``finetune``, ``threshold``) and
        the ``seconds`` taken.

    Raises:
        ValueError: If there are no photos, ``images`` without ``masks``
            (or the reverse), ``max_unlabelled`` < 1, fine-tuning without
            labelled photos, a scale, a margin or ``train_blocks`` out
            of range (or ``train_blocks`` for a backbone other than
            DINOv2), fine-tuning on unlabelled photos without a distiller
            config, or a photo or checkpoint that cannot be used (naming
            the file).
        FileNotFoundError: If a folder or the checkpoint does not exist.
    """
    start = time.perf_counter()
    config = Config.fromfile(config) if isinstance(config, str) else config
    if images is None and unlabelled is None:
        raise ValueError('nothing to adapt to: give labelled photos '
                         '(images and masks) or unlabelled ones')
    if (images is None) != (masks is None):
        raise ValueError('labelled photos need both an image folder and '
                         f'a mask folder (got images={images!r}, '
                         f'masks={masks!r})')
    if max_unlabelled < 1:
        raise ValueError(f'max_unlabelled must be >= 1, got {max_unlabelled}')
    if finetune_iters is not None and (
            finetune_iters < 0 or (finetune_iters and images is None)):
        raise ValueError('fine-tuning needs labelled photos and '
                         f'finetune_iters >= 0 (got {finetune_iters})')
    if scales is not None:
        scales = [check_scale(s, 'scales') for s in scales]
    if isinstance(distiller_config, str):
        distiller_config = Config.fromfile(distiller_config)
    if cfg_options:
        config.merge_from_dict(cfg_options)
    teachers = distiller_config or config
    distils = teachers.model.get('type') == 'DualTeacherDistiller'
    if finetune_iters and unlabelled and not distils:
        raise ValueError(
            f'{teachers.filename}: fine-tuning with unlabelled photos '
            'distils on them and needs a DualTeacherDistiller config '
            '(give --distiller-config)')

    # Every photo is read and checked before the model is loaded.
    photos = load_site_photos(images, masks, k, seed) if images else []
    if finetune_iters is None:
        # By default the unlabelled photos serve the norm statistics alone
        # where no teachers could distil on them.
        finetune_iters = default_finetune_iters(len(photos))
        unlabelled_teachers = unlabelled if distils else None
    else:
        unlabelled_teachers = unlabelled
    unlabelled_photos = load_site_photos(
        unlabelled, k=min(max_unlabelled, len(site_keys(unlabelled))),
        seed=seed) if unlabelled else []
    model = init_crack_model(config, checkpoint, device)
    source = load_checkpoint_file(checkpoint)
    record = dict(labelled=[photo_key(p.path) for p in photos],
                  unlabelled=len(unlabelled_photos),
                  max_unlabelled=max_unlabelled, seed=seed, steps=[])

    if photos:
        rule = default_rule(len(photos))
        if scale_min_gain is None:
            scale_min_gain = rule.scale_min_gain if scales is None else 0.0
        if scales is None:
            scales = SCALE_GRID if scale_min_gain < math.inf else \
                [apply_calibration(model)['scale']]
        calibration = choose_calibration(
            model, photos, scales,
            rule.min_gain if min_gain is None else min_gain,
            num_thresholds=rule.num_thresholds,
            scale_min_gain=scale_min_gain, progress=True)
        record['steps'].append(dict(step='calibration', **calibration))
    if unlabelled_photos and norm_stats:
        layers = reestimate_norm_stats(
            model, [p.img for p in unlabelled_photos], progress=True)
        record['steps'].append(dict(step='norm_stats', layers=layers))
    if finetune_iters:
        if len(photos) < MIN_FINETUNE_PHOTOS:
            warnings.warn(
                f'fine-tuning on {len(photos)} labelled photos: below '
                f'{MIN_FINETUNE_PHOTOS}, calibration alone (finetune_iters=0) '
                'was the better step at sites held out from the choice '
                '(README, "A new site")')
        # Without a work_dir the run's weights and logs go when it ends.
        scratch = None if work_dir else tempfile.TemporaryDirectory(
            prefix='adapt_')
        run_dir = work_dir or scratch.name
        try:
            student = save_atomically(
                dict(state_dict=model.state_dict()),
                osp.join(run_dir, 'source_student.pth'))
            cfg = finetune_config(
                config, student, images, masks, record['labelled'],
                finetune_iters, run_dir,
                scale=apply_calibration(model)['scale'],
                unlabelled=unlabelled_teachers, distiller=distiller_config,
                unlabelled_keys=[photo_key(p.path)
                                 for p in unlabelled_photos],
                train_blocks=train_blocks, seed=seed)
            Runner.from_cfg(cfg).train()
            tuned = osp.join(run_dir, f'iter_{finetune_iters}.pth')
            load_state_dict(model, deployable_state_dict(
                load_checkpoint_file(tuned), tuned), strict=True)
        finally:
            if scratch:
                scratch.cleanup()
        model.eval()
        record['steps'].append(dict(
            step='finetune', iters=finetune_iters,
            train_blocks=blocks_to_train(
                deployable_config(config).model.backbone, train_blocks),
            distillation=bool(unlabelled_teachers)))
    if photos and (finetune_iters or (unlabelled_photos and norm_stats)):
        again = choose_calibration(model, photos, [apply_calibration(model)
                                                   ['scale']], progress=True)
        record['steps'].append(dict(step='threshold', **again))
    record['seconds'] = round(time.perf_counter() - start, 1)

    calibration = apply_calibration(model)
    meta = dict(source.get('meta') or {})
    meta.update(decision_threshold=calibration['threshold'],
                test_scale=calibration['scale'], site_adaptation=record)
    save_atomically(dict(meta=meta, state_dict={
        key: value.cpu() for key, value in model.state_dict().items()}), out)
    return record
