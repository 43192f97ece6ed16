"""crackdino_mm: DINOv2 dual-teacher distillation for crack segmentation.

Importing the package registers every component into the MMSegmentation
registries (``mmseg.registry``), so configs can name them by ``type``.
"""
from .quiet_imports import import_stack_quietly

import_stack_quietly()

from . import apis, datasets, engine, evaluation, models  # noqa: F401,E402
from .version import __version__

__all__ = ['__version__']
