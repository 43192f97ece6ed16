"""Checkpoints that survive a kill: atomic writes, a consistent
last_checkpoint, and --resume falling back to the newest readable
checkpoint."""
import glob
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel

from crackdino_mm.utils.atomic_files import atomic_write
from test_atomic_save import run_killed_at
from crackdino_mm.engine.runner import (DeviceAwareRunner,
                                        choose_resume_checkpoint)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TESTS = osp.join(REPO, 'tests')
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'teacher-b_vit-t4_300it_synthetic-224x224.py')
TINY = [
    'model.data_preprocessor.size=[56,56]', 'model.backbone.img_size=56',
    'train_dataloader.dataset.img_size=[56,56]',
    'train_dataloader.dataset.num_samples=16', 'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_cfg.val_interval=1000', 'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=2', 'randomness.seed=0'
]


def save(path, iteration):
    torch.save(dict(meta=dict(iter=iteration), state_dict={}), path)


def test_atomic_write_killed_before_rename_keeps_the_old_file(tmp_path):
    target = tmp_path / 'iter_1.pth'
    atomic_write(b'old', target)
    # The worker dies at the worst moment: data written, rename pending.
    run_killed_at('replace', f'm.atomic_write(b"new" * 1000, {str(target)!r})')
    assert target.read_bytes() == b'old'
    assert len(glob.glob(str(tmp_path / '.iter_1.pth.*.tmp'))) == 1


def test_atomic_write_failure_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / 'last_checkpoint'
    atomic_write(b'a', target)

    def fail(*args):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', fail)
    with pytest.raises(OSError, match='disk full'):
        atomic_write(b'b', target)
    assert target.read_bytes() == b'a'
    assert os.listdir(tmp_path) == ['last_checkpoint']


def test_resume_choice_falls_back_to_the_newest_readable(tmp_path):
    for iteration in (2, 4, 10):
        save(tmp_path / f'iter_{iteration}.pth', iteration)
    save(tmp_path / 'best_crack_iou_iter_12.pth', 12)  # not resumable
    latest = tmp_path / 'iter_12.pth'
    save(latest, 12)
    latest.write_bytes(latest.read_bytes()[:100])  # cut by a kill
    (tmp_path / 'last_checkpoint').write_text(str(latest))

    path, warning = choose_resume_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'iter_10.pth')  # 10 > 4 > 2 numerically
    assert str(latest) in warning and path in warning

    latest.unlink()  # named but gone
    assert choose_resume_checkpoint(str(tmp_path))[0] == path

    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    assert choose_resume_checkpoint(str(tmp_path)) == (
        str(tmp_path / 'iter_4.pth'), None)  # mmengine's choice when it loads

    (tmp_path / 'last_checkpoint').unlink()
    path, warning = choose_resume_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'iter_10.pth') and 'missing' in warning


def test_resume_choice_without_checkpoints_or_readable_ones(tmp_path):
    assert choose_resume_checkpoint(str(tmp_path)) == (None, None)
    for iteration in (1, 2):
        (tmp_path / f'iter_{iteration}.pth').write_bytes(b'PK\x03\x04 cut')
    with pytest.raises(RuntimeError, match='no checkpoint') as error:
        choose_resume_checkpoint(str(tmp_path))
    assert 'iter_1.pth' in str(error.value)
    assert 'iter_2.pth' in str(error.value)


class OneWeight(BaseModel):
    """The smallest trainable model."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.weight.square().sum())


def one_weight_runner(work_dir, max_iters, resume):
    return DeviceAwareRunner(
        model=OneWeight(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=[torch.ones(1)] * 8, batch_size=1,
                              sampler=dict(type='DefaultSampler'),
                              collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', by_epoch=False, interval=1)),
        resume=resume, env_cfg=dict(dist_cfg=dict()),
        # The scope every other test builds in (a Runner sets it globally).
        default_scope='mmseg')


def test_resume_loads_only_the_chosen_checkpoint(tmp_path, monkeypatch):
    work = tmp_path / 'work'
    one_weight_runner(work, 3, resume=False).train()
    latest = work / 'iter_3.pth'
    with open(latest, 'r+b') as f:  # cut short
        f.truncate(os.path.getsize(latest) - 100)
    loaded = []
    full_load = torch.load

    def counting_load(f, *args, **kwargs):
        loaded.append(str(f))
        return full_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, 'load', counting_load)
    runner = one_weight_runner(work, 4, resume=True)
    warnings = []
    monkeypatch.setattr(runner.logger, 'warning', warnings.append)
    runner.train()
    assert loaded == [str(work / 'iter_2.pth')]
    assert runner.iter == 4
    (warning, ) = [w for w in warnings if 'cannot resume' in w]
    assert f'cannot resume from {latest}' in warning
    assert 'resuming from ' + str(work / 'iter_2.pth') in warning


def derived_config(tmp_path, name, body, base=CONFIG):
    """A config file inheriting ``base`` with ``body`` added."""
    path = tmp_path / f'{name}.py'
    path.write_text(f'_base_ = [{base!r}]\n' + body)
    return str(path)


def killed_at(tmp_path, iteration, while_saving=False, base=CONFIG):
    """``base`` plus a hook that SIGKILLs training at ``iteration``."""
    return derived_config(
        tmp_path, f'kill_at_{iteration}',
        "custom_imports = dict(imports=['crackdino_mm', 'kill_hook'], "
        'allow_failed_imports=False)\n'
        f"custom_hooks = [dict(type='KillAt', iteration={iteration}, "
        f'while_saving={while_saving})]\n', base)


def train(work_dir, max_iters, *options, resume=False, config=CONFIG):
    """tools/train.py (MMSeg's train.py) in a process of its own."""
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
           '--work-dir', str(work_dir)] + (['--resume'] if resume else []) + [
               '--cfg-options', f'train_cfg.max_iters={max_iters}', *TINY,
               *options
           ]
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([REPO, TESTS]))
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=600)


def checkpoints(work_dir):
    return sorted(osp.basename(p) for p in glob.glob(str(work_dir / '*.pth')))


def test_killed_while_saving_then_resumed_from_a_truncated_latest(tmp_path):
    work = tmp_path / 'work'
    killed = train(work, 8, config=killed_at(tmp_path, 5, while_saving=True))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    # Killed while iter_5.pth was written: iter_3 (to go once iter_5 is
    # complete) and iter_4 are intact, and last_checkpoint names iter_4.
    assert checkpoints(work) == ['iter_3.pth', 'iter_4.pth']
    latest = (work / 'last_checkpoint').read_text()
    assert latest == str(work / 'iter_4.pth')
    torch.load(latest, weights_only=False)
    # Then the newest checkpoint is cut short (a non-atomic copy, a full
    # disk): --resume warns and goes on from iter_3.
    with open(latest, 'r+b') as f:
        f.truncate(os.path.getsize(latest) // 2)
    resumed = train(work, 8, resume=True)
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert f'cannot resume from {latest}' in log
    assert f'resuming from {work / "iter_3.pth"}' in log
    assert 'resumed epoch: 0, iter: 3' in log
    final = torch.load(work / 'iter_8.pth', weights_only=False)
    assert final['meta']['iter'] == 8
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_8.pth')
    assert checkpoints(work) == ['iter_7.pth', 'iter_8.pth']


def test_resume_after_a_kill_reproduces_the_uninterrupted_weights(tmp_path):
    """One process, same seed, no random operation in training (no
    dropout, drop path, gradient penalty or random augmentation): the run
    killed at iteration 4 and resumed from iter_3 ends with exactly the
    weights of the uninterrupted run, so the optimiser, the schedule and
    the order of the data are restored exactly. (With random operations
    the weights differ: mmengine does not restore the random generators'
    state; see the README.)"""
    config = derived_config(
        tmp_path, 'no_randomness',
        'model = dict(decode_head=dict(dropout_ratio=0, gp_weight=0))\n'
        'train_dataloader = dict(dataset=dict(pipeline=['
        "dict(type='PackSegInputs')]))\n")
    straight = train(tmp_path / 'straight', 6, config=config)
    assert straight.returncode == 0, straight.stderr[-3000:]
    work = tmp_path / 'killed'
    killed = train(work, 6, config=killed_at(tmp_path, 4, base=config))
    assert killed.returncode == -signal.SIGKILL
    assert checkpoints(work) == ['iter_2.pth', 'iter_3.pth']
    resumed = train(work, 6, resume=True, config=config)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    expected = torch.load(tmp_path / 'straight' / 'iter_6.pth',
                          weights_only=False)
    actual = torch.load(work / 'iter_6.pth', weights_only=False)
    assert actual['meta']['iter'] == 6
    assert expected['state_dict'].keys() == actual['state_dict'].keys()
    for name, value in expected['state_dict'].items():
        assert torch.equal(value, actual['state_dict'][name]), name
