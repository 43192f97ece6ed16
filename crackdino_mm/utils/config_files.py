"""The files a config loads (checkpoints in ``init_cfg``, ``load_from``),
checked before a run starts, so that a missing one is one clear message
naming it and the command that makes it, not a traceback after the
environment dump."""
import os.path as osp
import re
from typing import Iterator, Tuple


class MissingConfigFile(FileNotFoundError):
    """A file the config loads does not exist."""


def needed_files(cfg, init_checkpoints: bool = True
                 ) -> Iterator[Tuple[str, str]]:
    """(config key, local path) of every checkpoint the config loads; the
    ``init_cfg`` ones only with ``init_checkpoints`` (training: a test run
    takes every weight from ``load_from``)."""

    def walk(node, key):
        if isinstance(node, dict):
            init_cfg = node.get('init_cfg')
            if isinstance(init_cfg, dict) and init_cfg.get('checkpoint'):
                yield f'{key}.init_cfg.checkpoint', init_cfg['checkpoint']
            for name, value in node.items():
                yield from walk(value, f'{key}.{name}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                yield from walk(value, f'{key}.{i}')

    if init_checkpoints:
        yield from walk(cfg.get('model') or {}, 'model')
    if cfg.get('load_from') and not cfg.get('resume'):
        yield 'load_from', cfg.load_from


def how_to_make(path: str) -> str:
    """The command (or the README section) that makes a checkpoint."""
    cpu = re.match(r'work_dirs/cpu_benchmark/([^/]+)/', path)
    if cpu:
        return f'python benchmarks/deepcrack_cpu.py train --only {cpu[1]}'
    if path.startswith('work_dirs/demo/'):
        return 'make demo'
    if 'dinov2' in osp.basename(path):
        return ('download the official DINOv2 weights (README, "DINOv2 '
                'checkpoints")')
    return 'train the config that writes it, or give the path of yours'


def check_config_files(cfg, init_checkpoints: bool = True) -> None:
    """Raise ``MissingConfigFile`` naming every missing file, its config
    key and how to make it."""
    missing = [(key, path) for key, path in needed_files(cfg,
                                                         init_checkpoints)
               if '://' not in path and not osp.isfile(path)]
    if missing:
        name = cfg.get('filename') or 'the config'
        raise MissingConfigFile(
            f'{name} needs ' + '; '.join(
                f'{path} ({key}), which does not exist: {how_to_make(path)}'
                for key, path in missing) +
            '. Paths are relative to the directory the command runs in; '
            'any of them can be changed with --cfg-options KEY=PATH.')
