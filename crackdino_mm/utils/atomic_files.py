"""The one way the project writes a file that must never be left half
written: checkpoints, calibrated checkpoints, exported models, records."""
import io
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

import torch

#: Suffix of the temporary files a write goes through; a file with it is
#: what a killed write leaves behind.
TMP_SUFFIX = '.tmp'


def atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` through a temporary file in the same
    folder, flushed to disk and then renamed over ``filepath``.

    A kill at any moment leaves either the old file or the complete new one
    (plus, at worst, a ``.<name>.*.tmp`` file), never a truncated
    ``filepath``; an error leaves no temporary file.

    Args:
        data (bytes): The file's whole content.
        filepath (str | Path): The file written (its folder is made).
    """
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(filepath)}.', suffix=TMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    # Make the rename itself durable (POSIX; a no-op elsewhere).
    if hasattr(os, 'O_DIRECTORY'):
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save_atomically(checkpoint: dict, out: str) -> str:
    """``torch.save`` ``checkpoint`` to ``out`` through :func:`atomic_write`.

    Args:
        checkpoint (dict): What to save.
        out (str): The file to write (its folder is made if missing).

    Returns:
        str: ``out``, which is either the old file or the whole new one,
        never a part.
    """
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write(buffer.getvalue(), out)
    return out
