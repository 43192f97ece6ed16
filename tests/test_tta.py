"""Test-time augmentation: the configs' tta_pipeline (flips and quarter
turns, non-square photos included) and CrackTTAModel, which averages the
views' probabilities once and stores them where every metric reads them."""
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.model import BaseModule
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEEPCRACK = Config.fromfile(
    osp.join(REPO, 'configs', '_base_', 'datasets', 'deepcrack.py'))
STUDENT_CFG = osp.join(REPO, 'configs', 'demo',
                       'crackdino-student_vit-t4_synthetic-224x224.py')
PREPROCESSOR = Config.fromfile(STUDENT_CFG).model.data_preprocessor


@MODELS.register_module(force=True)
class PixelwiseBackbone(BaseModule):
    """1x1 convolutions only: equivariant to every flip and turn."""

    def __init__(self, channels=8):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, channels, 1), nn.Tanh(), nn.Conv2d(channels,
                                                            channels, 1))

    def forward(self, x):
        return [self.layers(x)]


def equivariant_model():
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(PREPROCESSOR, size=None),
        backbone=dict(type='PixelwiseBackbone'),
        decode_head=dict(
            type='FCNHead', in_channels=8, channels=8, num_convs=1,
            kernel_size=1, concat_input=False, num_classes=2,
            out_channels=1, threshold=0.5,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True)),
        test_cfg=dict(mode='whole'))
    torch.manual_seed(0)
    return MODELS.build(ConfigDict(cfg)).eval()


def demo_student():
    torch.manual_seed(0)
    cfg = Config.fromfile(STUDENT_CFG).model
    cfg.data_preprocessor.size = None
    return MODELS.build(ConfigDict(cfg)).eval()


@pytest.fixture(scope='module')
def photo(tmp_path_factory):
    """A non-square photo (odd turns swap its sides) and its mask."""
    folder = tmp_path_factory.mktemp('photo')
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (70, 98, 3), dtype=np.uint8)
    mask = np.zeros((70, 98), np.uint8)
    mask[30:34, 10:90] = 255
    cv2.imwrite(str(folder / 'a.png'), img)
    cv2.imwrite(str(folder / 'a_mask.png'), mask)
    return dict(img_path=str(folder / 'a.png'),
                seg_map_path=str(folder / 'a_mask.png'),
                reduce_zero_label=False, seg_fields=[])


def run(model, pipeline, sample):
    data = pseudo_collate([Compose(pipeline)(dict(sample))])
    with torch.no_grad():
        return model.test_step(data)[0]


def tta(model):
    return MODELS.build(dict(type='CrackTTAModel', module=model))


def test_equivariant_model_gives_the_same_output(photo):
    model = equivariant_model()
    plain = run(model, DEEPCRACK.test_pipeline, photo)
    merged = run(tta(model), DEEPCRACK.tta_pipeline, photo)
    assert merged.seg_logits.data.shape == plain.seg_logits.data.shape == (
        1, 70, 98)
    assert torch.allclose(merged.seg_logits.data, plain.seg_logits.data,
                          atol=1e-6)
    assert torch.equal(merged.pred_sem_seg.data, plain.pred_sem_seg.data)
    assert torch.equal(merged.gt_sem_seg.data, plain.gt_sem_seg.data)
    assert merged.img_path == photo['img_path']


def test_merged_probability_is_the_mean_of_the_views(photo):
    """On a model that is not equivariant: the average of the eight views'
    probabilities, each turned and flipped back, computed here by hand."""
    model = demo_student()
    img = cv2.imread(photo['img_path'])
    expected = 0
    for k in range(4):
        for flip in (False, True):
            view = np.rot90(img, k)
            view = view[:, ::-1] if flip else view
            prob = run(model, [dict(type='LoadImageFromNDArray'),
                               dict(type='PackSegInputs')],
                       dict(img=np.ascontiguousarray(view)))
            prob = prob.seg_logits.data[0].numpy()
            prob = prob[:, ::-1] if flip else prob
            expected = expected + np.rot90(prob, -k)
    expected = expected / 8
    merged = run(tta(model), DEEPCRACK.tta_pipeline, photo)
    prob = merged.seg_logits.data[0].numpy()
    assert 0 <= prob.min() and prob.max() <= 1
    np.testing.assert_allclose(prob, expected, atol=1e-5)
    assert np.array_equal(merged.pred_sem_seg.data[0].numpy(),
                          expected > 0.5)


def test_first_view_must_be_unaugmented(photo):
    pipeline = DEEPCRACK.tta_pipeline.copy()
    pipeline[-1] = dict(pipeline[-1])
    pipeline[-1]['transforms'] = [
        [dict(type='Rot90', k=1)]] + pipeline[-1]['transforms'][1:]
    with pytest.raises(ValueError, match='unaugmented'):
        run(tta(equivariant_model()), pipeline, photo)


def test_rot90_must_come_before_flips(photo):
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='RandomFlip', prob=1., direction='horizontal'),
                dict(type='Rot90', k=1)]
    with pytest.raises(ValueError, match='before RandomFlip'):
        Compose(pipeline)(dict(photo))


def test_test_tool_tta_on_demo_config(tmp_path):
    """tools/test.py --tta with the config's tta_pipeline and tta_model."""
    checkpoint = str(tmp_path / 'student.pth')
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(
        Config.fromfile(STUDENT_CFG).model).state_dict(), meta={}),
        checkpoint)
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'test.py'), STUDENT_CFG,
         checkpoint, '--tta', '--work-dir', str(tmp_path / 'w'),
         '--cfg-options', 'test_dataloader.dataset.num_samples=2',
         'test_dataloader.dataset.img_size=(64,64)',
         'model.data_preprocessor.size=None',
         'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False'],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Iter(test) [2/2]' in proc.stdout + proc.stderr
    assert 'ods' in proc.stdout + proc.stderr
