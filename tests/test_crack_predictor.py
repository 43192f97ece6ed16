"""The package's one way in: init_crack_model (student alone, strict,
calibrated) and CrackPredictor (any photo size, whole or slid, scaled)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.apis import inference_model
from mmseg.registry import MODELS

from crackdino_mm.apis import CrackPredictor, init_crack_model
from crackdino_mm.utils import seg_logits_probability, write_calibration

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STUDENT = osp.join(REPO, 'configs', 'demo',
                   'crackdino-student_vit-t4_synthetic-224x224.py')
DISTILLER = osp.join(REPO, 'configs', 'demo',
                     'crackdino_vit-t4_500it_synthetic-224x224.py')
SLIDE = osp.join(REPO, 'configs', 'cpu_benchmark', 'crackdino-student-'
                 'lipschitz_vit-w192d12_1k_deepcrack-224x224.py')


def saved_model(config, path, seed=0, **meta):
    torch.manual_seed(seed)
    cfg = Config.fromfile(config).model
    if cfg.type == 'DualTeacherDistiller':
        for teacher in cfg.teachers.values():
            teacher.allow_random_init = True
            teacher.backbone.init_cfg = None
    model = MODELS.build(cfg)
    torch.save(dict(state_dict=model.state_dict(), meta=meta), str(path))
    return model


@pytest.fixture(scope='module')
def student(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'student.pth'
    saved_model(STUDENT, path)
    return str(path)


def mmseg_probability(model, img, test_cfg):
    """MMSeg's own prediction (inference_model) under ``test_cfg``."""
    saved, model.test_cfg = model.test_cfg, ConfigDict(test_cfg)
    try:
        result = inference_model(model, img)
    finally:
        model.test_cfg = saved
    return seg_logits_probability(result.seg_logits.data).numpy()


def photo(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3),
                                                np.uint8)


def test_loader_applies_the_checkpoint_calibration_unless_given(
        student, tmp_path):
    calibrated = write_calibration(student, str(tmp_path / 'c.pth'),
                                   threshold=0.3, scale=1.5)
    model = init_crack_model(STUDENT, calibrated,
                             cfg_options={'model.data_preprocessor.type':
                                          'CrackDataPreProcessor'})
    assert model.decode_head.threshold == 0.3
    assert model.data_preprocessor.test_scale == 1.5
    assert not model.training
    model = init_crack_model(STUDENT, calibrated, threshold=0.6, scale=1.0,
                             cfg_options={'model.data_preprocessor.type':
                                          'CrackDataPreProcessor'})
    assert model.decode_head.threshold == 0.6
    assert model.data_preprocessor.test_scale == 1.0


def test_loader_gives_a_distillers_student_alone(tmp_path):
    distiller = saved_model(DISTILLER, tmp_path / 'd.pth')
    model = init_crack_model(DISTILLER, str(tmp_path / 'd.pth'))
    assert type(model).__name__ == 'EncoderDecoder'
    assert not any('teacher' in k for k in model.state_dict())
    key = 'decode_head.conv_seg.weight'
    torch.testing.assert_close(model.state_dict()[key],
                               distiller.state_dict()[key])


def test_loader_names_a_wrong_or_cut_short_checkpoint(student, tmp_path):
    with pytest.raises(ValueError, match='does not fit the model of'):
        init_crack_model(SLIDE, student)
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(open(student, 'rb').read()[:1000])
    with pytest.raises(ValueError, match='cut.pth is not a readable'):
        init_crack_model(STUDENT, str(cut))
    with pytest.raises(FileNotFoundError, match='nope.pth does not exist'):
        init_crack_model(STUDENT, str(tmp_path / 'nope.pth'))


@pytest.mark.parametrize('batch_size', [1, 4])
def test_windows_come_from_the_config(batch_size):
    """A slide config: windows of its test_cfg crop and stride, averaged as
    MMSeg's slide inference averages them, in batches of windows."""
    torch.manual_seed(0)
    model = init_crack_model(SLIDE)
    predictor = CrackPredictor(model, batch_size=batch_size)
    assert (predictor.mode, predictor.crop, predictor.stride) == (
        'slide', (224, 224), (160, 160))
    img = photo(300, 400)
    np.testing.assert_allclose(
        predictor.probability(img),
        mmseg_probability(model, img, model.cfg.model.test_cfg), atol=1e-5)


def test_whole_config_slides_only_large_photos(student):
    model = init_crack_model(STUDENT, student)
    # A multiple of 14 on both sides: MMSeg's slide inference pads the
    # whole photo first (the config's size_divisor), the predictor each
    # window; on such a photo both see the same windows.
    img = photo(154, 266, seed=1)
    predictor = CrackPredictor(model)
    assert predictor.mode == 'whole'
    assert predictor.max_whole_pixels == 4 * 224 * 224
    np.testing.assert_allclose(
        predictor.probability(img),
        mmseg_probability(model, img, dict(mode='whole')), atol=1e-5)
    # Over the limit: windows of the training crop, stride 3/4 of it.
    predictor = CrackPredictor(model, max_whole_pixels=1000)
    assert (predictor.crop, predictor.stride) == ((224, 224), (168, 168))
    np.testing.assert_allclose(
        predictor.probability(img),
        mmseg_probability(model, img, dict(mode='slide', crop_size=(224, 224),
                                           stride=(168, 168))), atol=1e-5)


def test_scale_is_applied_whole_and_slid(student):
    """At scale 2 a photo is predicted as its twice-as-large copy would
    be, the result coming back at the photo's size, whether it goes
    through whole or in windows."""
    options = {'model.data_preprocessor.type': 'CrackDataPreProcessor'}
    model = init_crack_model(STUDENT, student, scale=2.0,
                             cfg_options=options)
    img = photo(60, 90, seed=2)
    whole = CrackPredictor(model).probability(img)
    assert whole.shape == (60, 90)
    plain = init_crack_model(STUDENT, student, cfg_options=options)
    unscaled = CrackPredictor(plain).probability(img)
    assert np.abs(whole - unscaled).max() > 1e-3  # the scale does something
    slid = CrackPredictor(model, crop_size=120, stride=120).probability(img)
    # one 120x180 photo in two 120x120 windows vs whole: the model is a
    # ViT, so only the windows' seam may differ much
    assert slid.shape == (60, 90)
    assert np.median(np.abs(slid - whole)) < 0.05
