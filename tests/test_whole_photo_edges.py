"""Every config that predicts whole photos predicts one of any size, and
those with a patch-14 ViT pad it as recorded (no false cracks along the
right or bottom edge): the prediction equals that of the photo padded by
hand and cropped back."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.structures import SegDataSample

from crackdino_mm.apis import CrackPredictor
from crackdino_mm.apis.model_loader import deployable_config
from crackdino_mm.utils import crack_probability

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    path for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                               recursive=True) if '_base_' not in path)


def whole_configs():
    found = []
    for path in CONFIGS:
        cfg = Config.fromfile(path)
        if 'model' in cfg and (cfg.model.get('test_cfg') or {}).get(
                'mode', 'whole') == 'whole':
            found.append(osp.relpath(path, REPO))
    return found


def random_model(path):
    from mmseg.registry import MODELS
    cfg = deployable_config(Config.fromfile(osp.join(REPO, path)))
    cfg.model.backbone.init_cfg = None
    cfg.model.pop('pretrained', None)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    model.cfg = cfg
    return model


def test_the_whole_photo_configs_are_found():
    found = whole_configs()
    assert any('demo' in path for path in found)


@pytest.mark.parametrize('path', whole_configs())
def test_a_photo_of_any_size_predicts_without_edge_artefacts(path):
    model = random_model(path)
    img = np.random.default_rng(0).integers(0, 255, (230, 481, 3), np.uint8)
    predictor = CrackPredictor(model, max_whole_pixels=10**7)
    prob = predictor.probability(img)
    assert prob.shape == (230, 481)
    if model.backbone.__class__.__name__ != 'DINOv2':
        return
    # The photo padded by hand to a multiple of the patch, predicted,
    # cropped back.
    pixels = torch.from_numpy(img.transpose(2, 0, 1).copy())
    data = model.data_preprocessor(dict(inputs=[pixels], data_samples=[
        SegDataSample(metainfo=dict(ori_shape=(230, 481)))]), False)
    inputs = data['inputs'][:, :, :230, :481]
    padded = F.pad(inputs, (0, 490 - 481, 0, 238 - 230))
    with torch.no_grad():
        logits = model.encode_decode(padded, [dict(
            img_shape=(238, 490), pad_shape=(238, 490),
            ori_shape=(238, 490))])
    reference = crack_probability(logits[:, :, :230, :481])[0].numpy()
    np.testing.assert_allclose(prob[:, -14:], reference[:, -14:], atol=1e-5)
    np.testing.assert_allclose(prob, reference, atol=1e-5)
