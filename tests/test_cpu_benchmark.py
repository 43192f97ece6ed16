"""benchmarks/deepcrack_cpu.py: entries, commands, log parsing, report and
the deployable model it measures."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from script_modules import harness, script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def bench():
    return script_module('benchmarks/deepcrack_cpu.py')


def save(bench, results):
    harness('records').save(bench.RESULTS, results)


def test_entries_match_their_configs(bench):
    for name, (config, _, teachers) in bench.ENTRIES.items():
        cfg = Config.fromfile(osp.join(REPO, config))
        assert cfg.train_cfg.max_iters == bench.MAX_ITERS, name
        # The configs' own teachers are the committed crack-set teachers
        # (train_command points them at stage 1's by name).
        if cfg.model.type == 'DualTeacherDistiller':
            teachers = cfg.model.teachers
            assert list(teachers) == ['teacher_large', 'teacher_base']
            for t in teachers:
                checkpoint = teachers[t].backbone.init_cfg.checkpoint
                assert checkpoint == ('benchmarks/results/'
                                      f'crack_transfer_weights/{t}.pth')
                assert osp.isfile(osp.join(REPO, checkpoint))
            assert teachers.teacher_large.backbone.arch.num_layers == 24
        if teachers:
            assert cfg.model.backbone.init_cfg.checkpoint == \
                bench.teacher_checkpoint('work_dirs/cpu_benchmark',
                                         'teacher_base')
        else:  # from scratch
            assert cfg.model.backbone.get('init_cfg') is None, name
            assert not cfg.model.get('pretrained'), name


def test_train_command_points_at_data_and_teachers(bench):
    cmd = bench.train_command('crackdino', '/data/DC', 'runs')
    options = cmd[cmd.index('--cfg-options') + 1:]
    assert cmd[:3] == ['python', 'tools/train.py',
                       bench.ENTRIES['crackdino'][0]]
    assert cmd[cmd.index('--work-dir') + 1] == osp.join('runs', 'crackdino')
    for loader in ('train', 'val', 'test'):
        assert f'{loader}_dataloader.dataset.data_root=/data/DC' in options
    assert ('model.teachers.teacher_large.backbone.init_cfg.checkpoint='
            'runs/teacher_large/iter_1000.pth') in options
    assert ('model.teachers.teacher_base.backbone.init_cfg.checkpoint='
            'runs/teacher_base/iter_1000.pth') in options
    assert ('model.backbone.init_cfg.checkpoint='
            'runs/teacher_base/iter_1000.pth') in options
    teacher_options = bench.train_command('teacher_large', '/d', 'runs')
    assert not any('init_cfg' in o for o in teacher_options)


def test_configs_predict_by_training_size_windows(bench):
    """Every entry is evaluated alike: 224x224 windows, the training crop,
    so no ViT sees padding or a resized position grid at test time; and
    training does not evaluate (tools/test.py does, once)."""
    for name, (config, _, _) in bench.ENTRIES.items():
        cfg = Config.fromfile(osp.join(REPO, config))
        test_cfg = cfg.model.test_cfg
        assert test_cfg.mode == 'slide', name
        assert tuple(test_cfg.crop_size) == (224, 224), name
        assert tuple(test_cfg.stride) == (160, 160), name
        assert cfg.train_cfg.val_begin > cfg.train_cfg.max_iters, name


def test_test_command_evaluates_the_final_checkpoint(bench):
    cmd = bench.test_command('unet', '/data/DC', 'runs')
    assert cmd[:4] == ['python', 'tools/test.py', bench.ENTRIES['unet'][0],
                       'runs/unet/iter_1000.pth']
    assert cmd[cmd.index('--work-dir') + 1] == osp.join('runs', 'unet',
                                                        'test')
    assert cmd[cmd.index('--cfg-options') + 1:] == [
        'test_dataloader.dataset.data_root=/data/DC'
    ]


def test_report_lists_missing_entries_and_ablation_changes(
        bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, 'RESULTS', str(tmp_path / 'r.json'))
    monkeypatch.setattr(bench, 'REPORT', str(tmp_path / 'RESULTS.md'))
    monkeypatch.setattr(bench, 'FIGURE', str(tmp_path / 'none.png'))
    # The README and docs blocks come from the committed record only.
    written = []
    monkeypatch.setattr(bench.blocks, 'write',
                        lambda *names: written.append(names))
    monkeypatch.setattr(bench.report, 'write_costs', lambda: None)

    def record(iou, f1, ods):
        return dict(
            train=dict(command='python tools/train.py X', commit='abc',
                       date='d', train_wall_seconds=900.0, step_seconds=2.5,
                       train_peak_rss_mib=1500),
            test=dict(metrics=dict(crack_iou=iou, crack_f1=f1, ods=ods),
                      command='python tools/test.py X', commit='abc',
                      date='d'))

    save(bench, dict(student_plain=record(40.0, 57.0, 60.0),
                            crackdino=record(43.5, 56.0, 61.25)))
    bench.cmd_report(None)
    text = (tmp_path / 'RESULTS.md').read_text()
    assert '| teacher_large |' in text and 'not run yet' in text
    assert '| crackdino | +3.50 | -1.00 | +1.25 |' in text
    assert '\npython tools/train.py X\n' in text
    assert '\npython tools/test.py X\n' in text
    assert written == [()]


def test_deployable_model_loads_a_distiller_checkpoint(
        bench, tmp_path, monkeypatch):
    """A distiller's checkpoint loads with strict keys into its student,
    which then segments an image of any size."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, bench.ENTRIES['crackdino'][0]))
    for teacher in cfg.model.teachers.values():
        teacher.backbone.init_cfg = None
        teacher.allow_random_init = True
    torch.manual_seed(0)
    distiller = MODELS.build(cfg.model)
    run_dir = tmp_path / 'crackdino'
    run_dir.mkdir()
    state = distiller.state_dict()
    assert any(k.startswith(distiller.DISTILLER_ONLY_PREFIXES)
               for k in state)
    torch.save(dict(state_dict=state), run_dir / 'iter_1000.pth')
    model = bench.build_trained('crackdino', str(tmp_path))
    assert type(model).__name__ == 'EncoderDecoder'
    assert torch.equal(model.backbone.cls_token,
                       distiller.backbone.cls_token)
    mask = bench.predict(model, np.zeros((50, 71, 3), np.uint8))
    assert mask.shape == (50, 71) and set(np.unique(mask)) <= {0, 1}


def test_train_stage_tests_what_is_trained_and_not_evaluated(
        bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, 'RESULTS', str(tmp_path / 'r.json'))
    calls = []
    monkeypatch.setattr(bench, 'run_training',
                        lambda name, args: calls.append(('train', name)) or
                        dict(command='train'))
    monkeypatch.setattr(
        bench, 'run_test', lambda name, args: calls.append(('test', name)) or
        dict(command='test', metrics=dict(crack_iou=50.0, crack_f1=66.0)))
    work_dir = tmp_path / 'runs'
    for name in ('teacher_base', 'unet'):
        (work_dir / name).mkdir(parents=True)
        (work_dir / name / 'iter_1000.pth').write_bytes(b'')
    save(bench, dict(teacher_base=dict(train=dict(command='old'))))

    def run(*extra):
        calls.clear()
        bench.cmd_train(bench.parse_args(
            ['train', '--work-dir', str(work_dir), '--only', 'teacher_base',
             'unet', *extra]))
        return list(calls)

    assert run() == [('test', 'teacher_base'), ('train', 'unet'),
                     ('test', 'unet')]
    results = harness('records').load(bench.RESULTS)
    assert results['teacher_base']['train'] == dict(command='old')
    assert results['unet']['test']['metrics']['crack_iou'] == 50.0
    assert run() == []
    assert run('--force') == [('train', 'teacher_base'),
                              ('test', 'teacher_base'), ('train', 'unet'),
                              ('test', 'unet')]
    with pytest.raises(SystemExit, match='teachers'):
        bench.cmd_train(bench.parse_args(
            ['train', '--work-dir', str(tmp_path / 'empty'), '--only',
             'student_plain']))
