"""The distillation's gradient on the student backbone against the
segmentation gradient at step 0, on real training crops and kept weights
(the crack-transfer study's ``measure`` stage)."""
import random
import statistics

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import crackdino_mm  # noqa: F401  (registers the project's components)


def real_batch(cfg, data_root, batch, seed):
    """``batch`` training crops of the config's pipeline from data_root."""
    # The pipeline's random crops and photometric changes draw from these.
    random.seed(seed)
    np.random.seed(seed)
    dataset_cfg = dict(cfg.train_dataloader.dataset, data_root=data_root)
    dataset = DATASETS.build(dataset_cfg)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(dataset), batch, replace=False)
    return pseudo_collate([dataset[int(i)] for i in picks])


def real_ratios(config, checkpoints, data_root, batch=8, seeds=(0, 1, 2)):
    """Per-teacher and total distillation/segmentation gradient ratio at
    step 0 of a config whose weights are the given checkpoints
    (``{'student': path, 'teachers': [path, ...]}``), mean and sd over one
    batch of DeepCrack crops per seed."""
    found = [real_ratio(config, checkpoints, data_root, batch, seed)
             for seed in seeds]
    return {key: [round(statistics.mean(f[key] for f in found), 5),
                  round(statistics.stdev(f[key] for f in found), 5)]
            for key in found[0]}


def real_ratio(config, checkpoints, data_root, batch, seed):
    """The ratios of ``real_ratios`` on one batch."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    model_cfg = cfg.model.to_dict()
    if checkpoints.get('student'):
        model_cfg['backbone']['init_cfg']['checkpoint'] = \
            checkpoints['student']
    else:
        model_cfg['backbone']['init_cfg'] = None
    for teacher, path in zip(model_cfg['teachers'].values(),
                             checkpoints['teachers']):
        teacher['backbone']['init_cfg']['checkpoint'] = path
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(
        real_batch(cfg, data_root, batch, seed), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    # Segmentation losses come back already weighted by seg_weight.
    seg = sum(
        v for n, v in losses.items() if 'loss' in n and
        not n.startswith('loss_distill') and not n.endswith('loss_gp'))
    found = {}
    for name in sorted(n for n in losses if n.startswith('loss_distill_t')):
        found[name.replace('loss_distill', 'ratio')] = float(
            model.backbone_grad_ratio(losses[name], seg))
        found[name] = float(losses[name].detach())
    found['ratio_total'] = float(losses['distill_grad_ratio'])
    return found
