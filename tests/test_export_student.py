"""tools/export_student.py: a distiller checkpoint becomes a plain
EncoderDecoder checkpoint with strict keys and the same predictions."""
import copy
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS

from crackdino_mm.models.segmentors import DualTeacherDistiller
from script_modules import script_module
from test_distiller import batch, build, distiller_cfg, optim

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(REPO, 'tools', 'export_student.py')
export_student = script_module('tools/export_student.py').export_student


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


@pytest.fixture
def trained(tmp_path):
    """A distiller trained for two steps, its training checkpoint (as the
    runner writes it) and its config file."""
    cfg = distiller_cfg(tmp_path)
    distiller = build(cfg)
    distiller.train()
    wrapper = optim(distiller)
    for step in range(2):
        distiller.train_step(batch(seed=step), wrapper)
    checkpoint = tmp_path / 'iter_2.pth'
    torch.save(dict(
        meta=dict(iter=2, dataset_meta=dict(classes=('background', 'crack'))),
        state_dict=distiller.state_dict(),
        optimizer=wrapper.state_dict(),
        message_hub=dict(log_scalars={}),
        param_schedulers=[]), checkpoint)
    config = tmp_path / 'distiller.py'
    Config(dict(model=cfg)).dump(str(config))
    return distiller, cfg, checkpoint, config


def test_exported_student_loads_strictly_and_predicts_the_same(
        trained, tmp_path):
    distiller, cfg, checkpoint, config = trained
    out = tmp_path / 'student' / 'student.pth'
    proc = run_tool(checkpoint, out, '--config', config)
    assert proc.returncode == 0, proc.stderr[-2000:]
    student_ckpt = torch.load(out, map_location='cpu', weights_only=False)
    assert set(student_ckpt) == {'state_dict', 'meta'}
    assert student_ckpt['meta']['dataset_meta']['classes'] == (
        'background', 'crack')
    assert not any(
        k.startswith(DualTeacherDistiller.DISTILLER_ONLY_PREFIXES)
        for k in student_ckpt['state_dict'])

    student = MODELS.build(ConfigDict(
        DualTeacherDistiller.student_config(copy.deepcopy(cfg))))
    assert type(student).__name__ == 'EncoderDecoder'
    student.load_state_dict(student_ckpt['state_dict'], strict=True)
    distiller.eval()
    student.eval()
    data = distiller.data_preprocessor(batch(seed=7), False)
    with torch.no_grad():
        expected = distiller.predict(data['inputs'],
                                     copy.deepcopy(data['data_samples']))
        got = student.predict(data['inputs'],
                              copy.deepcopy(data['data_samples']))
    for e, g in zip(expected, got):
        assert torch.equal(e.seg_logits.data, g.seg_logits.data)
        assert torch.equal(e.pred_sem_seg.data, g.pred_sem_seg.data)


def test_config_that_does_not_fit_stops_the_export(trained, tmp_path):
    _, cfg, checkpoint, _ = trained
    other = copy.deepcopy(cfg)
    other['neck']['out_channels'] = 24
    other['decode_head']['in_channels'] = 24
    config = tmp_path / 'other.py'
    Config(dict(model=other)).dump(str(config))
    out = tmp_path / 'student.pth'
    proc = run_tool(checkpoint, out, '--config', config)
    assert proc.returncode != 0
    assert 'other.py' in proc.stderr and 'iter_2.pth' in proc.stderr
    assert 'size mismatch' in proc.stderr
    assert not out.exists()


def test_export_needs_a_segmentor_training_checkpoint():
    with pytest.raises(KeyError, match='state_dict'):
        export_student({'model': {}})
    with pytest.raises(KeyError, match='with "backbone." weights'):
        export_student({'state_dict': {'teachers.0.w': torch.zeros(1)}})


def test_deployment_config_is_the_student_of_the_training_config():
    """The exported DeepCrack student loads into the deployment config:
    its network parts are exactly the training config's student."""
    train = Config.fromfile(osp.join(REPO, 'configs',
                                     'crackdino_deepcrack.py')).model
    deploy = Config.fromfile(osp.join(
        REPO, 'configs',
        'crackdino-distilled-student_dinov2-b_2k_deepcrack-448x448.py'))
    student = DualTeacherDistiller.student_config(train)
    assert deploy.model.type == student.type == 'EncoderDecoder'
    assert deploy.model.backbone.init_cfg is None
    student.backbone.pop('init_cfg')
    deploy.model.backbone.pop('init_cfg')
    for part in ('backbone', 'neck', 'decode_head', 'auxiliary_head'):
        assert deploy.model.get(part) == student.get(part), part
