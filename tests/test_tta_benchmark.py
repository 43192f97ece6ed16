"""benchmarks/tta_cpu.py: the TTA variants it tests and its commands."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import crackdino_mm  # noqa: F401

from script_modules import script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = ('configs/cpu_benchmark/crackdino-student-plainhead_vit-w192d12_'
          '1k_deepcrack-224x224.py')


@pytest.fixture(scope='module')
def bench():
    return script_module('benchmarks/tta_cpu.py')


@pytest.mark.parametrize('variant,views', [('flips', 4), ('rot8', 8)])
def test_variant_configs_give_their_views(bench, tmp_path, variant, views):
    path = bench.tta_config(CONFIG, bench.VARIANTS[variant][0],
                            str(tmp_path / f'{variant}.py'))
    cfg = Config.fromfile(path)
    init_default_scope('mmseg')
    img = np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8)
    label = (img[..., 0] > 128).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'a.jpg'), img)
    cv2.imwrite(str(tmp_path / 'a.png'), label)
    out = Compose(cfg.tta_pipeline)(dict(
        img_path=str(tmp_path / 'a.jpg'),
        seg_map_path=str(tmp_path / 'a.png'), reduce_zero_label=False,
        seg_fields=[]))
    metas = [s.metainfo for s in out['data_samples']]
    assert len(metas) == views
    turns = {(m['rot90'], m['flip']) for m in metas}
    assert len(turns) == views
    if variant == 'flips':
        # Half turns and flips only: every view keeps the photo's shape.
        assert all(m['img_shape'] == (30, 40) for m in metas)


def test_commands(bench, tmp_path):
    work_dir = osp.relpath(tmp_path, REPO)
    args = bench.parse_args(['run', CONFIG, 'ckpt.pth', '--data-root', 'dc',
                             '--work-dir', work_dir])
    plain = bench.test_command('none', args)
    assert '--tta' not in plain and plain[2] == CONFIG
    flips = bench.test_command('flips', args)
    # Recorded commands name paths relative to the repository.
    assert '--tta' in flips and flips[2] == osp.join(work_dir, 'flips.py')
    assert osp.isfile(osp.join(REPO, flips[2]))
    assert 'test_dataloader.dataset.data_root=dc' in flips
