"""Deployment: distiller -> student checkpoint -> plain EncoderDecoder, and
the student -> ONNX."""
import copy
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS

from script_modules import script_module
from test_distiller import batch, build, distiller_cfg, optim

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
export_student = script_module('tools/export_student.py').export_student


def test_exported_student_loads_strictly_and_predicts_the_same(tmp_path):
    cfg = distiller_cfg(tmp_path)
    distiller = build(cfg)
    distiller.train()
    wrapper = optim(distiller)
    for step in range(2):
        distiller.train_step(batch(seed=step), wrapper)
    checkpoint = dict(state_dict=distiller.state_dict(), meta=dict(iter=2),
                      optimizer=wrapper.state_dict())
    student_ckpt = export_student(checkpoint)
    assert not any(k.startswith(('teachers.', 'teacher_centers.'))
                   for k in student_ckpt['state_dict'])
    assert set(student_ckpt) == {'state_dict', 'meta'}

    student_cfg = copy.deepcopy(cfg)
    student_cfg['type'] = 'EncoderDecoder'
    for key in ('teachers', ):
        student_cfg.pop(key)
    student = MODELS.build(ConfigDict(student_cfg))
    student.load_state_dict(student_ckpt['state_dict'], strict=True)
    distiller.eval()
    student.eval()
    data = batch(seed=7)
    expected = distiller.test_step(data)
    got = student.test_step(data)
    for e, g in zip(expected, got):
        assert torch.allclose(e.seg_logits.data, g.seg_logits.data)
        assert torch.equal(e.pred_sem_seg.data, g.pred_sem_seg.data)


def test_export_student_tool_rejects_other_files(tmp_path):
    torch.save({'state_dict': {'head.weight': torch.zeros(1)}},
               tmp_path / 'bad.pth')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'export_student.py'),
         str(tmp_path / 'bad.pth'), str(tmp_path / 'out.pth')],
        capture_output=True, text=True)
    assert proc.returncode != 0 and 'bad.pth' in proc.stderr
    assert 'backbone' in proc.stderr


def test_onnx_matches_pytorch_pipeline(tmp_path):
    pytest.importorskip('onnxruntime')
    import onnxruntime
    config = osp.join(REPO, 'configs', 'demo',
                      'crackdino-student_vit-t4_synthetic-224x224.py')
    model = MODELS.build(Config.fromfile(config).model)
    ckpt = str(tmp_path / 'student.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    onnx_file = str(tmp_path / 'student.onnx')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'export_onnx.py'), config,
         ckpt, '--out', onnx_file, '--shape', '112', '140'],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'max |ONNX Runtime - PyTorch|' in proc.stdout
    # Independently of the tool's own check: ONNX on raw BGR pixels equals
    # the segmentor's probability through MMSeg's own preprocessing.
    img = torch.randint(0, 255, (3, 112, 140), dtype=torch.uint8)
    session = onnxruntime.InferenceSession(onnx_file)
    onnx_prob = session.run(None, {'image': img[None].float().numpy()})[0]
    model.eval()
    from mmseg.structures import SegDataSample
    sample = SegDataSample(metainfo=dict(img_shape=(112, 140),
                                         ori_shape=(112, 140)))
    with torch.no_grad():
        result = model.test_step(dict(inputs=[img], data_samples=[sample]))[0]
    torch_prob = result.seg_logits.data.numpy()  # sigmoid, as MMSeg stores
    assert np.abs(onnx_prob[0] - torch_prob).max() < 1e-4
