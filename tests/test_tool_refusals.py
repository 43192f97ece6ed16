"""Every tool refuses, before loading any model, an option out of the
library's range and an output that would lose work: rc 2, one line,
nothing written; tools/test.py fails naming both files when the
checkpoint does not fit the config's model."""
import hashlib

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from crackdino_mm.apis import deployable_state_dict
from crackdino_mm.engine.hooks import CheckpointFitHook, CheckpointMismatch
from test_refusals import files_under, refused, tool
from test_site_adaptation import DISTILLER, STUDENT


def digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


@pytest.mark.parametrize('name, args', [
    ('infer.py', ['C', 'K', 'photo.jpg', '--scale', '0.1']),
    ('test.py', ['C', 'K', '--scale', '0.1']),
    ('adapt.py', ['C', 'K', '--out', 'o.pth', '--scales', '1', '0.1']),
    ('export_onnx.py', ['C', 'K', '--out', 'o.onnx', '--scale', '5']),
    ('robustness.py', ['C', 'K', '--scale', '0.1']),
])
def test_a_scale_out_of_range_is_one_line_naming_the_range(name, args):
    refused(tool(name, *args), '--scale', '[0.25, 4]', 'got')


@pytest.mark.parametrize('name', ['infer.py', 'test.py', 'export_onnx.py',
                                  'robustness.py'])
def test_a_threshold_out_of_range_is_one_line_naming_the_range(name):
    args = ['C', 'K'] + (['photo.jpg'] if name == 'infer.py' else []) + (
        ['--out', 'o.onnx'] if name == 'export_onnx.py' else [])
    refused(tool(name, *args, '--threshold', '1.5'), '--threshold',
            '(0, 1)')


@pytest.fixture
def sources(tmp_path):
    config = tmp_path / 'model.py'
    config.write_text("model = dict(type='EncoderDecoder')\n")
    checkpoint = tmp_path / 'model.pth'
    torch.save(dict(state_dict={}, meta={}), str(checkpoint))
    photo = tmp_path / 'notes.txt'
    photo.write_text('not a checkpoint')
    return config, checkpoint, photo


def refuses_and_keeps(run, sources, tmp_path, *words):
    before = {p: digest(p) for p in sources}
    listing = files_under(tmp_path)
    line = refused(run, *words)
    assert {p: digest(p) for p in sources} == before
    assert files_under(tmp_path) == listing
    return line


@pytest.mark.parametrize('option', ['--out', '--work-dir'])
def test_test_tool_refuses_an_output_folder_that_is_a_file(
        sources, tmp_path, option):
    config, checkpoint, photo = sources
    refuses_and_keeps(tool('test.py', config, checkpoint, option, photo),
                      sources, tmp_path, option, 'is a file')


@pytest.mark.parametrize('case', ['out_config', 'out_text',
                                  'config_is_checkpoint'])
def test_choose_threshold_refuses_outputs_that_lose_work(sources, tmp_path,
                                                         case):
    config, checkpoint, photo = sources
    args, words = dict(
        out_config=(['--out', config], ['--out', 'is the config']),
        out_text=(['--out', photo], ['--out', 'not a checkpoint']),
        config_is_checkpoint=(['--out-config', checkpoint],
                              ['--out-config', 'is the checkpoint']))[case]
    refuses_and_keeps(tool('choose_threshold.py', config, checkpoint, *args),
                      sources, tmp_path, *words)


def test_exports_and_robustness_refuse_to_overwrite_their_sources(
        sources, tmp_path):
    config, checkpoint, _ = sources
    refuses_and_keeps(tool('export_onnx.py', config, checkpoint, '--out',
                           checkpoint), sources, tmp_path, '--out',
                      'is the checkpoint')
    line = refuses_and_keeps(tool('export_student.py', checkpoint,
                                  checkpoint), sources, tmp_path,
                             'is the source checkpoint')
    assert '--overwrite' not in line  # a tool without that option
    refuses_and_keeps(tool('export_student.py', checkpoint, config,
                           '--config', config), sources, tmp_path,
                      'is the config')
    refuses_and_keeps(tool('robustness.py', config, checkpoint, '--out',
                           config), sources, tmp_path, '--out',
                      'is the config')


class FakeRunner:
    """What CheckpointFitHook reads of a runner."""

    def __init__(self, model, config, checkpoint):
        self.model, self._load_from = model, checkpoint
        self.cfg = Config.fromfile(config)


def build(config):
    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    for teacher in (cfg.model.get('teachers') or {}).values():
        teacher.allow_random_init = True
        teacher.backbone.init_cfg = None
    return MODELS.build(cfg.model)


def test_a_checkpoint_of_another_model_fails_naming_both_files():
    state = build(STUDENT).state_dict()
    wrong = {k: v for k, v in state.items() if not k.startswith('neck.')}
    hook = CheckpointFitHook()
    runner = FakeRunner(build(STUDENT), STUDENT, 'wrong.pth')
    with pytest.raises(CheckpointMismatch) as error:
        hook.after_load_checkpoint(runner, dict(state_dict=wrong))
    assert 'wrong.pth' in str(error.value) and STUDENT in str(error.value)
    hook.after_load_checkpoint(runner, dict(state_dict=state))


def test_a_student_checkpoint_in_its_distiller_config_stays_quiet():
    distiller = build(DISTILLER)
    student = deployable_state_dict(
        dict(state_dict=distiller.state_dict()), 'distiller')
    runner = FakeRunner(distiller, DISTILLER, 'student.pth')
    CheckpointFitHook().after_load_checkpoint(
        runner, dict(state_dict={'module.' + k: v
                                 for k, v in student.items()}))
