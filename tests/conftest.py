import os

import pytest
import torch

# Two shared cores: one intra-op thread per test process keeps timings sane.
torch.set_num_threads(int(os.environ.get('CRACKDINO_TEST_THREADS', '1')))

import crackdino_mm  # noqa: E402,F401  registers the plugin's components
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.utils import register_all_modules  # noqa: E402

# Components named without a scope resolve in MMSeg's registries.
register_all_modules(init_default_scope=True)



@pytest.fixture(autouse=True)
def mmseg_scope():
    """Every test starts in MMSeg's scope: a runner built without
    ``default_scope`` (mmengine's default) leaves 'mmengine' the current
    scope, where no MMSeg component is found."""
    init_default_scope('mmseg')


DEEPCRACK_ROOT = os.environ.get(
    'DEEPCRACK_ROOT',
    os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data',
                 'DeepCrack'))


@pytest.fixture(scope='session')
def deepcrack_root():
    root = os.path.abspath(DEEPCRACK_ROOT)
    if not os.path.isdir(os.path.join(root, 'train_img')):
        pytest.skip(f'DeepCrack not found at {root} (set DEEPCRACK_ROOT)')
    return root


@pytest.fixture(scope='session')
def deepcrack_root_or_none():
    root = os.path.abspath(DEEPCRACK_ROOT)
    return root if os.path.isdir(os.path.join(root, 'train_img')) else None
