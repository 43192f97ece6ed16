"""Two-process DDP training of the distiller in CPU processes (gloo), with
MMSeg's own dist_train.sh and train.py: frozen teachers must not break
gradient synchronisation, and the deployable student fine-tunes without
find_unused_parameters. Run as a script under torchrun (``--worker DIR
[--student]``), this file is also the worker of the synchronisation
tests."""
import argparse
import glob
import os
import os.path as osp
import pathlib
import shutil
import socket
import subprocess
import sys

import mmseg
import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'crackdino_vit-t4_500it_synthetic-224x224.py')
STOCK_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_gloo_available(), reason='needs gloo')
@pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')
@pytest.mark.skipif(not osp.isfile(osp.join(STOCK_TOOLS, 'dist_train.sh')),
                    reason='the mmseg package ships no .mim/tools')
def test_stock_dist_train_and_test_in_two_cpu_processes(tmp_path):
    """MMSeg's dist_train.sh + train.py, unchanged, train in 2 CPU
    processes (the configs' DeviceAwareRunner starts gloo and DDP without
    devices, and keeps BatchNorm despite sync_bn); tools/dist_test.sh then
    tests the checkpoint in 2 processes."""
    cfg = Config.fromfile(CONFIG)
    options = []
    for name, teacher in cfg.model.teachers.items():
        backbone = dict(teacher.backbone)
        backbone.pop('init_cfg')
        path = str(tmp_path / f'{name}.pth')
        # Stage-1 segmentor checkpoints: the backbone under 'backbone.'.
        weights = MODELS.build(backbone).state_dict()
        torch.save(dict(state_dict={f'backbone.{k}': v
                                    for k, v in weights.items()}), path)
        options.append(
            f'model.teachers.{name}.backbone.init_cfg.checkpoint={path}')
    options.append('model.backbone.init_cfg.checkpoint=' +
                   str(tmp_path / 'teacher_base.pth'))
    options += [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=2', 'param_scheduler=[]',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.num_samples=8',
        'model.data_preprocessor.size=[112,112]',
        'train_dataloader.dataset.img_size=[112,112]',
        'model.backbone.img_size=112',
        'model.teachers.teacher_large.backbone.img_size=112',
        'model.teachers.teacher_base.backbone.img_size=112'
    ]
    # The stock script runs `python -m torch.distributed.launch`; mmengine
    # gathers the processes' validation results in ./.dist_test.
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1',
               PATH=osp.dirname(sys.executable) + os.pathsep +
               os.environ.get('PATH', ''),
               PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    work_dir = tmp_path / 'work'
    proc = subprocess.run(
        ['bash', osp.join(STOCK_TOOLS, 'dist_train.sh'), CONFIG, '2',
         '--work-dir', str(work_dir), '--cfg-options', *options],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, printed[-3000:]
    # The environment dump goes to the log file.
    log = printed + ''.join(open(f).read() for f in glob.glob(
        str(work_dir / '*' / '*.log')))
    assert 'Distributed launcher: pytorch' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert "'backend': 'gloo'" in log
    assert "sync_bn='torch' ignored" in log
    checkpoint = torch.load(work_dir / 'iter_2.pth', map_location='cpu',
                            weights_only=False)
    keys = checkpoint['state_dict']
    assert not any(k.startswith('teachers.') for k in keys)
    assert 'teacher_centers.t0_l0' in keys

    env['PORT'] = str(free_port())
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_test.sh'), CONFIG,
         str(work_dir / 'iter_2.pth'), '2', '--work-dir',
         str(tmp_path / 'test'), '--cfg-options', *options,
         'test_dataloader.dataset.num_samples=4',
         'test_dataloader.dataset.img_size=[112,112]',
         'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False'],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, printed[-3000:]
    log = ''.join(open(f).read() for f in glob.glob(
        str(tmp_path / 'test' / '*' / '*.log')))
    assert 'crack_iou' in printed and 'GPU number: 2' in log


def ddp_worker(work_dir, student_only=False):
    """Each process trains the same tiny distiller (or, with
    ``student_only``, its deployable student, as when the exported student
    is fine-tuned) on its own images for a few steps through mmengine's
    DDP wrapper (no find_unused_parameters: a parameter without a gradient
    stops it at the second step), then checks that all processes hold the
    same student and centres and that the teachers are still exactly their
    files."""
    import crackdino_mm  # noqa: F401
    from mmengine.model import MMDistributedDataParallel
    from mmseg.utils import register_all_modules

    from test_distiller import batch, build, distiller_cfg, optim
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(1)
    dist.init_process_group(backend='gloo')
    rank = dist.get_rank()
    # Same seeds: every process writes identical teacher files of its own.
    local = pathlib.Path(work_dir) / f'rank{rank}'
    local.mkdir(parents=True)
    cfg = distiller_cfg(local)
    torch.manual_seed(0)
    model = build(cfg)
    if student_only:
        model = MODELS.build(model.student_config(cfg))
    start = [p.detach().clone() for p in model.parameters()
             if p.requires_grad]
    ddp = MMDistributedDataParallel(module=model, device_ids=None)
    assert not ddp.find_unused_parameters
    wrapper = optim(model)
    for step in range(3):
        ddp.train_step(batch(seed=100 * rank + step), wrapper)

    def same_on_all_processes(tensor):
        copies = [torch.empty_like(tensor) for _ in range(2)]
        dist.all_gather(copies, tensor)
        return torch.equal(copies[0], copies[1])

    student = [p.detach() for p in model.parameters() if p.requires_grad]
    assert same_on_all_processes(torch.cat([p.flatten() for p in student]))
    assert any(not torch.equal(a, b) for a, b in zip(start, student))
    if student_only:
        dist.destroy_process_group()
        return
    centres = torch.cat([b.flatten()
                         for b in model.teacher_centers.buffers()])
    assert torch.count_nonzero(centres) and same_on_all_processes(centres)
    for k, teacher in enumerate(cfg['teachers']):
        weights = torch.load(teacher['backbone']['init_cfg']['checkpoint'])
        state = model.teachers[k].state_dict()
        assert all(torch.equal(state[name], value)
                   for name, value in weights.items())
    dist.destroy_process_group()


def run_workers(work_dir, *options):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
         '2', '--master_addr', '127.0.0.1', '--master_port',
         str(free_port()), osp.abspath(__file__), '--worker',
         str(work_dir), *options],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.skipif(not dist.is_gloo_available(), reason='needs gloo')
def test_ddp_keeps_processes_in_sync_with_frozen_teachers(tmp_path):
    run_workers(tmp_path)


@pytest.mark.skipif(not dist.is_gloo_available(), reason='needs gloo')
def test_deployable_student_fine_tunes_under_ddp(tmp_path):
    run_workers(tmp_path, '--student')


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--worker', required=True, metavar='DIR')
    parser.add_argument('--student', action='store_true')
    args = parser.parse_args()
    ddp_worker(args.worker, args.student)
