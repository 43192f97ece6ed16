"""benchmarks/crack_transfer_cpu.py: entries, order, commands, data checks."""
import importlib.util
import os.path as osp
import sys

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def bench():
    sys.path.insert(0, osp.join(REPO, 'benchmarks'))
    spec = importlib.util.spec_from_file_location(
        'crack_transfer_cpu', osp.join(REPO, 'benchmarks',
                                       'crack_transfer_cpu.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_entry_runs_after_what_it_needs(bench):
    names = list(bench.entries())
    assert len(names) == 3 + 3 * len(bench.SEEDED) + 2
    for position, (arm, _) in enumerate(bench.entries().values()):
        assert osp.isfile(osp.join(REPO, bench.ARMS[arm][0]))
        for need in bench.ARMS[arm][3]:
            assert names.index(need) < position


def test_crack_set_training_never_sees_deepcrack(bench):
    args = bench.parse_args(['train'])
    for arm, (config, _, data, _) in bench.ARMS.items():
        if data != 'crack_sets':
            continue
        cfg = Config.fromfile(osp.join(REPO, config))
        roots = [d.data_root for d in cfg.train_dataloader.dataset.datasets]
        assert [osp.basename(r) for r in roots] == list(bench.CRACK_SETS)
        command = bench.train_command(arm, args)
        train_options = [o for o in command if o.startswith('train_')]
        assert train_options == [
            f'train_dataloader.dataset.datasets.{i}.data_root='
            f'data/crack_sets/{name}'
            for i, name in enumerate(bench.CRACK_SETS)]


def test_evaluation_changes_only_the_data_root(bench):
    args = bench.parse_args(['train', '--work-dir', 'wd'])
    command = bench.test_command('crackdino_s1', 'GAPs384', args)
    options = command[command.index('--cfg-options') + 1:]
    assert options[0] == 'test_dataloader.dataset.data_root=' \
        'data/crack_sets/GAPs384'
    assert set(options[1:]) == {
        'model.backbone.init_cfg.checkpoint=wd/teacher_base/iter_1000.pth',
        'model.teachers.0.backbone.init_cfg.checkpoint='
        'wd/teacher_large/iter_1000.pth',
        'model.teachers.1.backbone.init_cfg.checkpoint='
        'wd/teacher_base/iter_1000.pth'}
    assert command[3] == 'wd/crackdino_s1/iter_1000.pth'
    train = bench.train_command('segformer_ft_s2', args)
    assert 'randomness.seed=2' in train
    assert 'model.backbone.init_cfg.checkpoint=' \
        'wd/segformer_pre/iter_1000.pth' in train


def test_missing_crack_sets_name_the_build_command(bench, tmp_path,
                                                   deepcrack_root):
    args = bench.parse_args(['train', '--data-root', deepcrack_root,
                             '--crack-sets-root', str(tmp_path)])
    with pytest.raises(SystemExit, match='lmm_crack_sets.py --source'):
        bench.check_data(args)
