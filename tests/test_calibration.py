"""The calibration that travels with a checkpoint (threshold, test-time
scale), the crack probability of a head's output, and the preprocessor
that applies the scale."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from crackdino_mm.apis import scalable_config
from crackdino_mm.utils import (apply_calibration, crack_probability,
                                read_calibration, seg_logits_probability,
                                write_calibration)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'teacher-b_vit-t4_300it_synthetic-224x224.py')


def small_model(scale=None):
    cfg = Config.fromfile(CONFIG).model
    cfg.backbone.img_size = 56
    if scale is not None:
        cfg.data_preprocessor.update(type='CrackDataPreProcessor',
                                     test_cfg=dict(scale=scale))
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def batch(height, width, seed=0):
    img = torch.randint(0, 256, (3, height, width), dtype=torch.uint8,
                        generator=torch.Generator().manual_seed(seed))
    sample = SegDataSample(metainfo=dict(ori_shape=(height, width),
                                         img_shape=(height, width)))
    return dict(inputs=[img], data_samples=[sample])


def test_crack_probability_of_one_and_two_channel_heads():
    logits = torch.randn(2, 1, 5, 6)
    torch.testing.assert_close(crack_probability(logits),
                               logits[:, 0].sigmoid())
    two = torch.randn(2, 2, 5, 6)
    torch.testing.assert_close(crack_probability(two),
                               two.softmax(1)[:, 1])
    # MMSeg's seg_logits: already the sigmoid for one channel
    assert torch.equal(seg_logits_probability(logits[0]), logits[0, 0])
    torch.testing.assert_close(seg_logits_probability(two[0]),
                               two[0].softmax(0)[1])
    with pytest.raises(ValueError, match='1 or 2 output channels'):
        crack_probability(torch.randn(1, 3, 4, 4))


def test_calibration_is_written_to_a_copy_and_read_back(tmp_path):
    path = str(tmp_path / 'a.pth')
    torch.save(dict(state_dict={'w': torch.ones(1)}, meta=dict(x=1)), path)
    out = write_calibration(path, str(tmp_path / 'b.pth'), threshold=0.3,
                            scale=1.5)
    assert read_calibration(out) == dict(threshold=0.3, scale=1.5)
    assert read_calibration(path) == dict(threshold=None, scale=None)
    assert torch.load(out, weights_only=False)['meta']['x'] == 1
    with pytest.raises(ValueError, match=r"b.pth: meta\['test_scale'\]"):
        checkpoint = torch.load(out, weights_only=False)
        checkpoint['meta']['test_scale'] = 9.0
        torch.save(checkpoint, out)
        read_calibration(out)


def test_a_cut_short_checkpoint_is_named_and_left_alone(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save(dict(state_dict={'w': torch.ones(1000)}), str(path))
    path.write_bytes(path.read_bytes()[:300])
    before = path.read_bytes()
    with pytest.raises(ValueError, match='cut.pth is not a readable'):
        write_calibration(str(path), threshold=0.4)
    assert path.read_bytes() == before
    with pytest.raises(FileNotFoundError, match='none.pth does not exist'):
        read_calibration(str(tmp_path / 'none.pth'))


def test_apply_calibration_sets_head_and_preprocessor():
    model = small_model(scale=1.0)
    assert apply_calibration(model, threshold=0.2, scale=2.0) == dict(
        threshold=0.2, scale=2.0)
    assert model.decode_head.threshold == 0.2
    assert model.data_preprocessor.test_scale == 2.0
    with pytest.raises(TypeError, match='scalable_config'):
        apply_calibration(small_model(), scale=2.0)
    # A scale of 1 is what a plain preprocessor does: nothing to refuse.
    assert apply_calibration(small_model(), threshold=0.3, scale=1.0) == dict(
        threshold=0.3, scale=1.0)
    with pytest.raises(ValueError, match='scale must be in'):
        apply_calibration(model, scale=10)


def test_scaled_prediction_is_the_prediction_of_the_resized_photo():
    """At scale s the model sees the photo resized by s, and the result
    comes back at the photo's size."""
    scaled, plain = small_model(scale=2.0), small_model(scale=1.0)
    with torch.no_grad():
        result = scaled.test_step(batch(28, 42))[0]
        big = F.interpolate(batch(28, 42)['inputs'][0][None].float(),
                            size=(56, 84), mode='bilinear',
                            align_corners=False)[0]
        data = batch(56, 84)
        data['inputs'] = [big]
        reference = plain.test_step(data)[0]
    assert result.seg_logits.data.shape == (1, 28, 42)
    expected = F.interpolate(reference.seg_logits.data[None].logit(),
                             size=(28, 42), mode='bilinear',
                             align_corners=False)[0].sigmoid()
    torch.testing.assert_close(result.seg_logits.data, expected,
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('tta', [False, True])
def test_any_mmseg_config_becomes_one_that_takes_a_scale(tta):
    """A user's own MMSeg config (no custom_imports of this package), bare
    or wrapped for test-time augmentation, builds a model that takes a
    scale; everything else in its preprocessor is kept."""
    cfg = Config.fromfile(CONFIG)
    cfg.pop('custom_imports')
    cfg.model.data_preprocessor.type = 'mmseg.SegDataPreProcessor'
    if tta:
        cfg.model = dict(type='SegTTAModel', module=cfg.model)
    scalable = scalable_config(cfg)
    model = scalable.model.module if tta else scalable.model
    before = cfg.model.module if tta else cfg.model
    assert model.data_preprocessor == dict(before.data_preprocessor,
                                           type='CrackDataPreProcessor')
    assert scalable.custom_imports.imports == ['crackdino_mm']
    if tta:  # not the top-level one, which the Runner would give it
        assert scalable.model.data_preprocessor == model.data_preprocessor
    assert cfg.model == (dict(type='SegTTAModel', module=before) if tta
                         else before)  # the given config is left alone
    if not tta:
        model = MODELS.build(dict(scalable.model,
                                  backbone=dict(model.backbone, img_size=56)))
        assert apply_calibration(model, scale=2.0)['scale'] == 2.0
