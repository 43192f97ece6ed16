"""One atomic save for every checkpoint the project writes: a write that
fails or is killed midway leaves the old file byte-identical."""
import os
import signal
import subprocess
import sys

import pytest
import torch

from crackdino_mm.apis import read_calibration, write_calibration
from crackdino_mm.utils import atomic_files

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def checkpoint(path, threshold=0.3):
    torch.save(dict(state_dict=dict(w=torch.arange(1000.)),
                    meta=dict(decision_threshold=threshold)), path)
    return path.read_bytes()


def test_a_save_failing_halfway_keeps_the_old_file_and_no_temporary(
        tmp_path, monkeypatch):
    path = tmp_path / 'model.pth'
    old = checkpoint(path)
    real_save = torch.save

    def half_then_fail(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(f.tell() // 2)
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', half_then_fail)
    with pytest.raises(OSError, match='disk full'):
        write_calibration(str(path), threshold=0.7)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ['model.pth']


def test_a_write_failing_midway_on_disk_leaves_no_temporary(tmp_path,
                                                             monkeypatch):
    path = tmp_path / 'model.pth'
    old = checkpoint(path)

    def fail(fd):
        raise OSError('I/O error')

    monkeypatch.setattr(atomic_files.os, 'fsync', fail)
    with pytest.raises(OSError, match='I/O error'):
        write_calibration(str(path), threshold=0.7)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ['model.pth']


def run_killed_at(call: str, statement: str) -> None:
    """Run ``statement`` in a fresh process whose ``atomic_files.os``
    function ``call`` SIGKILLs it; assert that it was killed."""
    code = ('import os, signal\n'
            'from crackdino_mm.utils import atomic_files as m\n'
            f'm.os.{call} = lambda *a: os.kill(os.getpid(), signal.SIGKILL)'
            f'\n{statement}\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == -signal.SIGKILL


def test_a_save_killed_midway_keeps_the_old_file(tmp_path):
    path = tmp_path / 'model.pth'
    old = checkpoint(path)
    # Killed while the new bytes reach the disk.
    run_killed_at('fsync', 'from crackdino_mm.apis import write_calibration'
                  f'\nwrite_calibration({str(path)!r}, threshold=0.7)')
    assert path.read_bytes() == old
    write_calibration(str(path), threshold=0.7)
    assert read_calibration(str(path))['threshold'] == 0.7
