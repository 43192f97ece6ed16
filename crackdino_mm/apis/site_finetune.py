"""Few-shot fine-tuning on a site's labelled photos, with the dual-teacher
distillation on its unlabelled photos if asked: an ordinary mmengine
training run, built from the source config."""
import copy
import os
import os.path as osp
from typing import Optional, Sequence, Union

from mmengine.config import Config

from ..models.backbones import DINOv2
from ..models.segmentors import DualTeacherDistiller
from .model_loader import deployable_config

#: The fine-tuning step size (AdamW): a fifth of the CPU schedule's peak,
#: for a model that is already trained.
FINETUNE_LR = 1e-4
#: DINOv2 blocks fine-tuned when not told: the last third of a ViT-S/B.
DEFAULT_TRAIN_BLOCKS = 4


def site_pipeline(crop_size: Sequence[int], scale: float,
                  unlabelled: bool = False) -> list:
    """Training crops of site photos seen at the test-time ``scale``.

    Args:
        crop_size (Sequence[int]): (height, width) of the crops.
        scale (float): Resize factor applied first (none at 1).
        unlabelled (bool): The photos have no masks: their label is 255
            (ignored) everywhere. Defaults to False.

    Returns:
        list[dict]: The pipeline's transform configs.
    """
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadCrackAnnotations', unlabelled_as_ignored=unlabelled)
    ]
    if scale != 1:
        pipeline.append(dict(type='Resize', scale_factor=scale,
                             keep_ratio=True))
    return pipeline + [
        dict(type='RandomCrop', crop_size=tuple(crop_size),
             cat_max_ratio=1.0),
        dict(type='RandomFlip', prob=0.5, direction=['horizontal',
                                                     'vertical']),
        dict(type='PackSegInputs'),
    ]


def blocks_to_train(backbone: dict,
                    train_blocks: Optional[int]) -> Union[int, str]:
    """``train_blocks`` checked against ``backbone``: the number of last
    DINOv2 blocks to train (None: 4), or 'all' for another backbone, which
    has no block count to honour and is trained whole."""
    if backbone.get('type') == 'DINOv2':
        train_blocks = DEFAULT_TRAIN_BLOCKS if train_blocks is None \
            else train_blocks
        depth = DINOv2._parse_arch(backbone.get('arch', 'base'))[0][
            'num_layers']
        if not 0 <= train_blocks <= depth:
            raise ValueError(f'train_blocks must be in [0, {depth}], got '
                             f'{train_blocks}')
        return train_blocks
    if train_blocks is not None:
        raise ValueError(f'train_blocks={train_blocks} needs a DINOv2 '
                         f'backbone, not {backbone.get("type")}, which is '
                         'fine-tuned whole (leave train_blocks unset)')
    return 'all'


def freeze_backbone(model: dict,
                    train_blocks: Optional[int]) -> Union[int, str]:
    """Freeze all but the backbone blocks of ``blocks_to_train`` (0: the
    whole DINOv2 backbone) and return that count."""
    backbone = model['backbone']
    blocks = blocks_to_train(backbone, train_blocks)
    if blocks == 0:
        backbone['frozen'] = True
    elif blocks != 'all':
        depth = DINOv2._parse_arch(backbone.get('arch', 'base'))[0][
            'num_layers']
        backbone['frozen_stages'] = depth - blocks
    backbone['init_cfg'] = None  # the weights come from the checkpoint
    return blocks


def distiller_around(student: dict, distiller: dict) -> dict:
    """The distiller of config ``distiller`` (teachers, losses, weights)
    around the student model config ``student``."""
    own = set(distiller) - set(DualTeacherDistiller.student_config(distiller))
    return dict(copy.deepcopy(student), type='DualTeacherDistiller',
                **{key: copy.deepcopy(distiller[key]) for key in own})


def write_keys(path: str, keys: Sequence[str]) -> str:
    """A split file of ``keys`` (``CrackFolderDataset``'s ann_file)."""
    with open(path, 'w') as f:
        f.write('\n'.join(keys) + '\n')
    return path


def finetune_config(config: Config, student_checkpoint: str, images: str,
                    masks: str, keys: Sequence[str], iters: int,
                    work_dir: str, scale: float = 1.0,
                    unlabelled: Optional[str] = None,
                    distiller: Optional[Config] = None,
                    unlabelled_keys: Optional[Sequence[str]] = None,
                    train_blocks: Optional[int] = None,
                    batch_size: int = 4,
                    lr: float = FINETUNE_LR, seed: int = 0) -> Config:
    """The training config that fine-tunes the student of ``config`` (its
    weights in ``student_checkpoint``) for ``iters`` steps on the photos
    ``keys`` of ``images``/``masks``, with the neck, the head and the
    backbone blocks of ``freeze_backbone`` trainable.

    With ``unlabelled``, the dual-teacher distillation of ``distiller``
    (default: ``config`` itself, which must then be a distiller) runs on
    batches of ``batch_size`` labelled crops and as many unlabelled ones
    (``MixedBatchSampler``), only the photos ``unlabelled_keys`` of it if
    given. Validation and testing are switched off; one checkpoint is
    written, ``iter_<iters>.pth`` in ``work_dir``.

    Args:
        config (Config): The source config (a distiller's gives its
            student).
        student_checkpoint (str): The student's weights (``load_from``).
        images (str): Folder of the labelled photos.
        masks (str): Folder of their masks.
        keys (Sequence[str]): The labelled photos to train on, written to
            ``work_dir`` as the split file.
        iters (int): Training steps.
        work_dir (str): The run's folder (made if missing).
        scale (float): Test-time scale the crops are seen at. Defaults to
            1.0.
        unlabelled (str, optional): Folder of unlabelled photos to distil
            on. Defaults to None: no distillation.
        distiller (Config, optional): The ``DualTeacherDistiller`` config
            whose teachers, losses and weights are used. Defaults to None:
            ``config``.
        unlabelled_keys (Sequence[str], optional): The unlabelled photos
            used. Defaults to None: all of the folder.
        train_blocks (int, optional): Last DINOv2 blocks trained. Defaults
            to None: 4 (other backbones: trained whole).
        batch_size (int): Labelled crops per batch. Defaults to 4.
        lr (float): AdamW learning rate. Defaults to ``FINETUNE_LR``.
        seed (int): The run's seed. Defaults to 0.

    Returns:
        Config: The config for ``Runner.from_cfg``.

    Raises:
        ValueError: If ``train_blocks`` is out of range or given for a
            backbone other than DINOv2, or ``unlabelled`` is given without
            a distiller config.
    """
    cfg = deployable_config(config)
    model = cfg.model
    freeze_backbone(model, train_blocks)
    os.makedirs(work_dir, exist_ok=True)
    split = write_keys(osp.join(work_dir, 'labelled_keys.txt'), keys)
    crop = cfg.get('crop_size', (224, 224))
    dataset = dict(type='CrackFolderDataset', data_root='', ann_file=split,
                   data_prefix=dict(img_path=images, seg_map_path=masks),
                   pipeline=site_pipeline(crop, scale))
    sampler = dict(type='InfiniteSampler', shuffle=True)
    if unlabelled:
        source = distiller or config
        if source.model.get('type') != 'DualTeacherDistiller':
            raise ValueError(
                f'{source.filename}: distillation on unlabelled photos '
                'needs a DualTeacherDistiller config (give one)')
        model = distiller_around(model, source.model)
        listed = write_keys(osp.join(work_dir, 'unlabelled_keys.txt'),
                            unlabelled_keys) if unlabelled_keys else ''
        dataset = dict(type='ConcatDataset', datasets=[
            dataset,
            dict(type='CrackFolderDataset', data_root='',
                 ann_file=listed,
                 data_prefix=dict(img_path=unlabelled, seg_map_path=None),
                 pipeline=site_pipeline(crop, scale, unlabelled=True))])
        sampler = dict(type='MixedBatchSampler', batch_size=2 * batch_size,
                       first_per_batch=batch_size)
        batch_size *= 2
    cfg.model = model
    cfg.work_dir = work_dir
    cfg.load_from = student_checkpoint
    cfg.resume = False
    cfg.train_dataloader = dict(
        batch_size=batch_size, num_workers=0,
        sampler=sampler, dataset=dataset)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=iters + 1)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.param_scheduler = None
    cfg.custom_hooks = [dict(type='ProgressBarHook', desc='fine-tuning')]
    cfg.default_hooks.checkpoint.update(interval=iters, max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type='LoggerHook',
                                    interval=max(1, iters // 4))
    cfg.randomness = dict(seed=seed)
    # mmengine keeps one visualizer per name in a process: a name of this
    # run's own keeps a second fine-tuning from writing into the first's
    # (perhaps deleted) folder.
    cfg.visualizer = dict(cfg.get('visualizer') or dict(
        type='SegLocalVisualizer', vis_backends=[dict(
            type='LocalVisBackend')]), name=f'site_finetune:{work_dir}')
    return cfg
