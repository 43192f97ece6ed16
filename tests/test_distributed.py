"""Two-process DDP training of the distiller through tools/dist_train.sh
(gloo on the CPU): frozen teachers must not break gradient sync."""
import os
import os.path as osp
import shutil
import socket
import subprocess

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'crackdino_vit-t4_500it_synthetic-224x224.py')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_gloo_available(), reason='needs gloo')
@pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')
def test_dist_train_two_processes(tmp_path):
    cfg = Config.fromfile(CONFIG)
    options = []
    for k, teacher in enumerate(cfg.model.teachers):
        backbone = dict(teacher.backbone)
        backbone.pop('init_cfg')
        path = str(tmp_path / f'teacher{k}.pth')
        # Stage-1 segmentor checkpoints: the backbone under 'backbone.'.
        weights = MODELS.build(backbone).state_dict()
        torch.save(dict(state_dict={f'backbone.{k}': v
                                    for k, v in weights.items()}), path)
        options.append(
            f'model.teachers.{k}.backbone.init_cfg.checkpoint={path}')
    options.append(f'model.backbone.init_cfg.checkpoint={path}')
    options += [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=2', 'param_scheduler=[]',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.num_samples=8',
        'model.data_preprocessor.size=[112,112]',
        'train_dataloader.dataset.img_size=[112,112]',
        'model.backbone.img_size=112',
        'model.teachers.0.backbone.img_size=112',
        'model.teachers.1.backbone.img_size=112'
    ]
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1')
    work_dir = tmp_path / 'work'
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), CONFIG, '2',
         '--work-dir', str(work_dir), '--cfg-options', *options],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Distributed launcher: pytorch' in log or 'world_size: 2' in log
    checkpoint = torch.load(work_dir / 'iter_2.pth', map_location='cpu',
                            weights_only=False)
    keys = checkpoint['state_dict']
    assert not any(k.startswith('teachers.') for k in keys)
    assert 'teacher_centers.t0_l0' in keys
