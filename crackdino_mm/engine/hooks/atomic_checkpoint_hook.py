"""A CheckpointHook whose checkpoints survive a kill."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

from ...utils.atomic_files import TMP_SUFFIX, atomic_write


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's :class:`CheckpointHook` made safe against kills.

    A kill (preemption, OOM killer, Ctrl-C twice) while a checkpoint is
    written must not leave a truncated ``iter_N.pth`` that ``--resume``
    then reads. Here, for a local checkpoint folder:

    - every checkpoint is written atomically (``AtomicLocalBackend``:
      temporary file, fsync, rename), so it is complete or absent;
    - ``last_checkpoint`` is written atomically, only after its checkpoint
      is complete;
    - checkpoints beyond ``max_keep_ckpts`` are deleted only after the new
      one is complete (mmengine deletes first, so a kill during the write
      could leave no checkpoint at all);
    - temporary files of a killed write are removed when training starts.

    Arguments are :class:`CheckpointHook`'s; an explicit ``backend_args``
    or ``file_client_args`` (e.g. a remote ``out_dir``) is kept as given.
    """

    def before_train(self, runner) -> None:
        out_dir = self.out_dir or runner.work_dir
        local = isinstance(
            get_file_backend(out_dir, backend_args=self.backend_args),
            LocalBackend)
        if (local and self.backend_args is None
                and self.file_client_args is None):
            self.backend_args = dict(backend='atomic_local')
        super().before_train(runner)
        if local and is_main_process():
            patterns = [
                osp.join(self.out_dir, '.' + self.filename_tmpl.format('*') +
                         f'.*{TMP_SUFFIX}'),
                osp.join(runner.work_dir, f'.last_checkpoint.*{TMP_SUFFIX}')
            ]
            for stale in sorted(set(sum(map(glob.glob, patterns), []))):
                os.remove(stale)
                runner.logger.warning(
                    f'removed {stale}, left by a checkpoint write that was '
                    'killed')

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = []
        counted = bool(self.keep_ckpt_ids) and self.keep_ckpt_ids[-1] == step
        if self.max_keep_ckpts > 0 and not counted:
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write(
            str(self.last_ckpt).encode(),
            osp.join(runner.work_dir, 'last_checkpoint'))
        for old in outdated:
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
