"""mmengine's Runner, fitted to the hardware it finds and able to resume
after a kill."""
import atexit
import datetime
import gc
import logging
import os
import os.path as osp
import re
import zipfile
from inspect import isclass
from typing import List, Optional, Tuple

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.dist import is_distributed
from mmengine.model import convert_sync_batchnorm, revert_sync_batchnorm
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner import Runner
from mmseg.registry import RUNNERS
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from ..utils.config_files import check_config_files
from ..utils.optimizer_step import ACCUMULATION_KEY

#: Names of the checkpoints CheckpointHook writes by default.
CHECKPOINT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def checkpoint_error(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from, or None if it looks complete.

    Cheap: reads only the end of the file. A checkpoint is a zip archive
    (``torch.save``'s format, which mmengine writes), whose central
    directory is written last; a file cut short (a kill during a non-atomic
    copy, a full disk) has none, or entries reaching past its end. The
    chosen checkpoint is then loaded in full only once, by ``resume``.
    """
    if not osp.isfile(path):
        return 'no such file'
    size = osp.getsize(path)
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        return f'not a complete torch.save zip archive ({error})'
    if not any(e.filename.endswith('data.pkl') for e in entries):
        return 'a zip archive without data.pkl, not a torch checkpoint'
    cut = [e.filename for e in entries
           if e.header_offset + e.compress_size > size]
    if cut:
        return f'entries {cut[:3]} reach past the end of the file'
    return None


def resume_candidates(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """The checkpoint named in ``work_dir/last_checkpoint`` (None if none)
    and the other ``iter_N.pth``/``epoch_N.pth`` files of its folder and of
    ``work_dir``, largest N first."""
    named = None
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip() or None
    folders = {osp.abspath(work_dir)}
    if named is not None:
        folders.add(osp.dirname(osp.abspath(named)))
    found = []
    for folder in sorted(folders):
        for name in os.listdir(folder) if osp.isdir(folder) else []:
            match = CHECKPOINT_NAME.match(name)
            path = osp.join(folder, name)
            if match and (named is None
                          or osp.abspath(path) != osp.abspath(named)):
                found.append((int(match.group(1)), path))
    return named, [path for _, path in sorted(found, reverse=True)]


def choose_resume_checkpoint(work_dir: str
                             ) -> Tuple[Optional[str], Optional[str]]:
    """The checkpoint to resume from and a warning, if any: the one
    ``last_checkpoint`` names if it is complete, else the newest complete
    one (see ``checkpoint_error``).

    Returns (None, None) when ``work_dir`` holds no checkpoint; raises
    RuntimeError naming every file when it holds some and none is complete.
    """
    named, others = resume_candidates(work_dir)
    failures = []
    for path in ([named] if named else []) + others:
        error = checkpoint_error(path)
        if error is None:
            break
        failures.append(f'{path} ({error})')
    else:
        if failures:
            raise RuntimeError(
                f'cannot resume: no checkpoint in {work_dir} can be loaded: '
                + '; '.join(failures))
        return None, None
    if failures:
        return path, ('cannot resume from ' + '; '.join(failures) +
                      f': resuming from {path}, the newest readable '
                      'checkpoint')
    if named is None:
        return path, (f'{osp.join(work_dir, "last_checkpoint")} is missing: '
                      f'resuming from {path}, the newest readable checkpoint')
    return path, None


def close_process_group() -> None:
    """Destroy the process group and free what still holds it (the DDP
    wrapper of a finished runner, kept alive by reference cycles) before
    the interpreter exits: freed during interpreter teardown, gloo's
    threads can abort a process that finished its work ("terminate called
    without an active exception")."""
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()
    gc.collect()


def device_env_cfg(env_cfg: Optional[dict]) -> dict:
    """``env_cfg`` with the backend and cudnn.benchmark it leaves unset
    chosen from the hardware: NCCL and benchmark with CUDA, gloo and no
    benchmark without."""
    cuda = torch.cuda.is_available()
    env_cfg = dict(env_cfg or {})
    env_cfg.setdefault('cudnn_benchmark', cuda)
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    dist_cfg.setdefault('backend', 'nccl' if cuda else 'gloo')
    env_cfg['dist_cfg'] = dist_cfg
    return env_cfg


def convert_sync_batchnorm_where_possible(module: nn.Module,
                                         implementation: str = 'torch'
                                         ) -> nn.Module:
    """mmengine's ``convert_sync_batchnorm``, except inside modules whose
    ``needs_double_backward`` is true (e.g. a head trained with a gradient
    penalty): SyncBatchNorm has no double backward (the penalty's
    ``loss.backward()`` would fail with "derivative for
    batch_norm_backward_elemt is not implemented", pytorch#61222)."""
    if getattr(module, 'needs_double_backward', False):
        return module
    if isinstance(module, _BatchNorm):
        return convert_sync_batchnorm(module, implementation)
    for name, child in module.named_children():
        module.add_module(
            name, convert_sync_batchnorm_where_possible(child, implementation))
    return module


@RUNNERS.register_module()
class DeviceAwareRunner(Runner):
    """A Runner that fits the hardware it finds and resumes after a kill.

    Select it with ``runner_type = 'DeviceAwareRunner'`` (MMSeg's own
    ``train.py`` builds it from the registry).

    - **Backend.** Unless the config sets them, ``env_cfg.dist_cfg.backend``
      is NCCL and ``env_cfg.cudnn_benchmark`` is on when CUDA is available,
      gloo and off otherwise.
    - **CPU processes.** mmengine's PyTorch launcher always selects a CUDA
      device and gives DDP the local GPU; without CUDA this runner starts
      the gloo process group itself (``torchrun`` / ``--launcher pytorch``)
      and wraps the model in DDP without device ids, and destroys the group
      at exit (``close_process_group``).
    - **SyncBN.** ``sync_bn='torch'`` converts BatchNorm to SyncBatchNorm in
      multi-GPU runs, except in modules trained with a double backward
      (see ``convert_sync_batchnorm_where_possible``); one process
      (mmengine) and CPU processes (SyncBatchNorm needs CUDA) run plain
      BatchNorm.
    - **Quiet start.** The environment and config dump go to the log file,
      not the terminal.
    - **Missing files.** A checkpoint the config loads that does not exist
      stops the run before anything is logged, with its name, config key
      and the command that makes it (``MissingConfigFile``); a test run
      (``test_only=True`` in the config, as ``tools/test.py`` sets) needs
      only ``load_from``.
    - **Resume.** With ``resume=True`` and no ``load_from``, training
      resumes from the checkpoint ``last_checkpoint`` names if it is
      complete, else from the newest complete ``iter_N.pth``/``epoch_N.pth``
      (``checkpoint_error``: only the zip's central directory is read, and
      only the chosen checkpoint is loaded), with a warning naming both; it stops with an error listing every file only
      when there are checkpoints and none is complete. With no checkpoint at all
      it starts from scratch, as mmengine does.
    - **Optimizer step.** The optimizer's ``accumulative_counts`` is
      published in the message hub (``ACCUMULATION_KEY``), so that
      components acting every N optimizer steps count steps, not
      micro-batches (``crackdino_mm.utils.optimizer_step``).
    """

    @classmethod
    def from_cfg(cls, cfg) -> 'DeviceAwareRunner':
        # Before mmengine logs the environment and the config. A test run
        # (``test_only``, set by tools/test.py) takes every weight from
        # load_from: only training reads the init_cfg checkpoints.
        check_config_files(cfg,
                           init_checkpoints=not cfg.pop('test_only', False))
        return super().from_cfg(cfg)

    def __init__(self, *args, env_cfg: Optional[dict] = None, **kwargs):
        super().__init__(*args, env_cfg=device_env_cfg(env_cfg), **kwargs)

    def _log_env(self, env_cfg: dict) -> None:
        """The environment and config dump go to the log file only, so
        the terminal shows what the run does."""
        console = [h for h in self.logger.handlers
                   if isinstance(h, logging.StreamHandler)
                   and not isinstance(h, logging.FileHandler)]
        levels = [h.level for h in console]
        for handler in console:
            handler.setLevel(logging.WARNING)
        try:
            super()._log_env(env_cfg)
        finally:
            for handler, level in zip(console, levels):
                handler.setLevel(level)
        self.logger.info('environment and config written to '
                         f'{osp.join(self.log_dir, self.timestamp)}.log')

    def setup_env(self, env_cfg: dict) -> None:
        if (self.distributed and not torch.cuda.is_available()
                and not is_distributed()):
            self._init_cpu_process_group(env_cfg['dist_cfg'])
        super().setup_env(env_cfg)

    def _init_cpu_process_group(self, dist_cfg: dict) -> None:
        """The process group of CPU processes started by torchrun."""
        if self.launcher != 'pytorch':
            raise RuntimeError(
                f'launcher={self.launcher!r} needs CUDA; start CPU processes '
                'with torchrun (--launcher pytorch, e.g. tools/dist_train.sh)')
        kwargs = dict(dist_cfg)
        kwargs.pop('init_backend', None)  # mmengine's option, not torch's
        if kwargs.get('timeout') is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
        torch_dist.init_process_group(**kwargs)
        atexit.register(close_process_group)

    def wrap_model(self, model_wrapper_cfg: Optional[dict], model):
        if not self.distributed:
            return super().wrap_model(model_wrapper_cfg, model)
        # mmengine would convert every BatchNorm: convert here instead.
        sync_bn = self.cfg.pop('sync_bn', None)
        try:
            if torch.cuda.is_available():
                if sync_bn is not None:
                    model = convert_sync_batchnorm_where_possible(
                        model, sync_bn)
            else:
                model = revert_sync_batchnorm(model)
                model_wrapper_cfg = self._cpu_wrapper_cfg(model_wrapper_cfg)
                if sync_bn is not None:
                    self.logger.info(
                        f'sync_bn={sync_bn!r} ignored: SyncBatchNorm needs '
                        'CUDA, the CPU processes keep BatchNorm')
            return super().wrap_model(model_wrapper_cfg, model)
        finally:
            if sync_bn is not None:
                self.cfg.sync_bn = sync_bn

    def build_optim_wrapper(self, optim_wrapper):
        built = super().build_optim_wrapper(optim_wrapper)
        wrappers = built.values() if isinstance(built, OptimWrapperDict) \
            else [built]
        # OptimWrapper keeps the count private; all wrappers share it here.
        counts = {getattr(w, '_accumulative_counts', 1) for w in wrappers
                  if isinstance(w, OptimWrapper)}
        if len(counts) > 1:
            raise ValueError('optim_wrapper: every optimizer must have the '
                             f'same accumulative_counts, got {counts}')
        self.message_hub.update_info(ACCUMULATION_KEY,
                                     counts.pop() if counts else 1)
        return built

    def _cpu_wrapper_cfg(self, model_wrapper_cfg: Optional[dict]) -> dict:
        """The model wrapper of CPU processes: DDP without device ids."""
        wrapper = dict(model_wrapper_cfg or dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=self.cfg.get('find_unused_parameters',
                                                False)))
        wrapper.setdefault('type', 'MMDistributedDataParallel')
        wrapper_type = wrapper['type']
        if isinstance(wrapper_type, str):
            wrapper_type = MODEL_WRAPPERS.get(wrapper_type)
        if isclass(wrapper_type) and issubclass(wrapper_type,
                                                DistributedDataParallel):
            wrapper['device_ids'] = None
        return wrapper

    def load_or_resume(self) -> None:
        if self._has_loaded or not self._resume or self._load_from:
            return super().load_or_resume()
        checkpoint = self.newest_readable_checkpoint()
        if checkpoint is None:
            self.logger.info(f'No checkpoint in {self.work_dir} to resume '
                             'from: training starts from the beginning.')
            return
        self.resume(checkpoint)

    def newest_readable_checkpoint(self) -> Optional[str]:
        """The checkpoint to resume from (see the class), or None when the
        work directory holds none."""
        path, warning = choose_resume_checkpoint(self.work_dir)
        if warning:
            self.logger.warning(warning)
        return path
