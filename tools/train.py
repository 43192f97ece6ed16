"""MMSeg's own ``tools/train.py``, run as it is.

Everything the project needs at training time (device-aware backend, DDP
in CPU processes, SyncBN, atomic checkpoints, resume fallback) comes from
the configs (``runner_type='DeviceAwareRunner'``), so MMSeg's script, which
ships inside the mmseg package, is used unchanged; this file only finds it
and turns a missing checkpoint into one line.
"""
import os.path as osp
import runpy
import sys

import mmseg

from crackdino_mm.apis import MissingConfigFile


def stock_tool(name: str) -> str:
    """Path of one of MMSeg's own tools: in the installed package
    (``mmseg/.mim/tools``) or, for a source checkout, beside it."""
    package = osp.dirname(osp.abspath(mmseg.__file__))
    for path in (osp.join(package, '.mim', 'tools', name),
                 osp.join(osp.dirname(package), 'tools', name)):
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'MMSeg\'s tools/{name} is neither in {package}/.mim/tools nor in '
        'its source checkout: reinstall onedl-mmsegmentation')


if __name__ == '__main__':
    script = stock_tool('train.py')
    sys.argv[0] = script
    try:
        runpy.run_path(script, run_name='__main__')
    except MissingConfigFile as error:
        sys.exit(f'train.py: {error}')
