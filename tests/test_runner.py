"""DeviceAwareRunner's choices that need no second process: backend and
cudnn.benchmark from the hardware, and which BatchNorm layers SyncBN
converts (not those under a double backward), and the optimizer step
it publishes, and that the CPU process group it starts is destroyed at
exit."""
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmseg.registry import MODELS

from crackdino_mm.engine.runner import (DeviceAwareRunner,
                                        convert_sync_batchnorm_where_possible,
                                        device_env_cfg)
from crackdino_mm.utils.optimizer_step import optimizer_step
from test_distiller import distiller_cfg
from test_distributed import REPO, free_port


@pytest.mark.parametrize('cuda', [False, True])
def test_backend_and_cudnn_benchmark_follow_the_hardware(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    env = device_env_cfg(dict(dist_cfg=dict(timeout=1800)))
    assert env['dist_cfg'] == dict(timeout=1800,
                                   backend='nccl' if cuda else 'gloo')
    assert env['cudnn_benchmark'] is cuda
    forced = device_env_cfg(
        dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo')))
    assert forced['dist_cfg']['backend'] == 'gloo'
    assert forced['cudnn_benchmark'] is False


def batchnorm_types(module):
    return {name: type(m).__name__ for name, m in module.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)}


@pytest.mark.parametrize('gp_weight', [0.05, 0.0])
def test_sync_bn_spares_the_head_under_the_gradient_penalty(
        tmp_path, gp_weight):
    cfg = distiller_cfg(tmp_path)
    cfg['decode_head']['gp_weight'] = gp_weight
    model = convert_sync_batchnorm_where_possible(MODELS.build(cfg))
    types = batchnorm_types(model)
    neck = {t for n, t in types.items() if n.startswith('neck.')}
    head = {t for n, t in types.items() if n.startswith('decode_head.')}
    assert neck == {'SyncBatchNorm'}
    assert head == ({'BatchNorm2d'} if gp_weight else {'SyncBatchNorm'})


def test_lipschitz_head_refuses_syncbn_with_the_gradient_penalty():
    head = dict(type='LipschitzHead', in_channels=8, in_index=0,
                decoder_channels=(8, ), num_classes=2, out_channels=1,
                threshold=0.5, norm_cfg=dict(type='SyncBN'))
    with pytest.raises(ValueError, match='double backward'):
        MODELS.build(dict(head, gp_weight=0.05))
    assert not MODELS.build(dict(head, gp_weight=0.0)).needs_double_backward


def test_one_process_runs_plain_batchnorm(tmp_path):
    """A SyncBN norm_cfg (MMSeg's habit) in one process: BatchNorm."""
    cfg = distiller_cfg(tmp_path)
    cfg['neck']['norm_cfg'] = dict(type='SyncBN')
    runner = DeviceAwareRunner(model=cfg, work_dir=str(tmp_path / 'work'),
                               default_scope='mmseg',
                               env_cfg=dict(dist_cfg=dict()))
    assert runner.distributed is False
    types = set(batchnorm_types(runner.model).values())
    assert types and 'SyncBatchNorm' not in types


class StepRecorder(BaseModel):
    """A one-weight model that records the optimizer step of every
    micro-batch it is trained on."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))
        self.steps = []

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.steps.append(optimizer_step())
        return dict(loss=self.weight.square().sum())


def train_recorder(work_dir, max_iters, resume):
    runner = DeviceAwareRunner(
        model=StepRecorder(), work_dir=work_dir,
        train_dataloader=dict(dataset=[torch.ones(1)] * 8, batch_size=1,
                              sampler=dict(type='DefaultSampler'),
                              collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1),
                           accumulative_counts=2),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', by_epoch=False, interval=2)),
        resume=resume, env_cfg=dict(dist_cfg=dict()))
    runner.train()
    return runner.model.steps


def test_optimizer_steps_survive_resume_and_count_accumulated_steps(
        tmp_path):
    work_dir = str(tmp_path / 'work')
    assert train_recorder(work_dir, 4, resume=False) == [0, 0, 1, 1]
    assert train_recorder(work_dir, 8, resume=True) == [2, 2, 3, 3]


def test_cpu_process_group_is_destroyed_before_exit(tmp_path):
    """The gloo group the runner starts is gone when the interpreter
    tears down (a check registered before it runs after the close)."""
    script = tmp_path / 'worker.py'
    script.write_text(
        'import atexit, types\n'
        'import torch.distributed as dist\n'
        'from crackdino_mm.engine.runner import DeviceAwareRunner\n'
        'atexit.register(lambda: print("initialized at exit:",'
        ' dist.is_initialized()))\n'
        'DeviceAwareRunner._init_cpu_process_group('
        'types.SimpleNamespace(launcher="pytorch"), dict(backend="gloo"))\n'
        'print("initialized:", dist.is_initialized())\n')
    env = dict(os.environ, MASTER_ADDR='127.0.0.1', MASTER_PORT=str(
        free_port()), RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
        PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'initialized: True' in proc.stdout
    assert 'initialized at exit: False' in proc.stdout
