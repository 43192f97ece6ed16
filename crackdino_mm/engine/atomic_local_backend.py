"""Local file backend whose writes are atomic."""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

#: Suffix of the temporary files a write goes through; a file with it is
#: what a killed write leaves behind.
TMP_SUFFIX = '.tmp'


def atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` through a temporary file in the same
    folder, flushed to disk and then renamed over ``filepath``.

    A kill at any moment leaves either the old file or the complete new one
    (plus, at worst, a ``.<name>.*.tmp`` file), never a truncated
    ``filepath``.
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


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend with atomic ``put``/``put_text``.

    Select it with ``backend_args=dict(backend='atomic_local')``;
    :class:`AtomicCheckpointHook` does so for local checkpoint folders, so
    that a checkpoint is either complete or absent after a kill.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), filepath)
