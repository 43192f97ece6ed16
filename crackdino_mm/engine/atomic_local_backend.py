"""Local file backend whose writes are atomic."""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from ..utils.atomic_files import atomic_write


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
