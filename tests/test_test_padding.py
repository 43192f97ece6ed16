"""Test-time padding to a multiple of 14 that shifts nothing: recorded by
the data preprocessor and cropped off the prediction before it is resized
to the image; constant, mirrored or replicated borders; and the full-size
configs' choice (sliding windows at the training crop)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'teacher-b_vit-t4_300it_synthetic-224x224.py')
HEIGHT, WIDTH = 40, 61  # padded to 42 x 70


def model_with(data_preprocessor=None, test_cfg=None):
    """The demo model; its preprocessor pads only as data_preprocessor
    says (the demo config's own test-time padding is dropped)."""
    cfg = Config.fromfile(CONFIG).model
    cfg.backbone.img_size = 56
    cfg.data_preprocessor.pop('test_cfg', None)
    cfg.data_preprocessor.update(data_preprocessor or {})
    if test_cfg:
        cfg.test_cfg = test_cfg
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def image_batch(height=HEIGHT, width=WIDTH):
    img = torch.randint(0, 256, (3, height, width), dtype=torch.uint8,
                        generator=torch.Generator().manual_seed(0))
    sample = SegDataSample(metainfo=dict(ori_shape=(height, width),
                                         img_shape=(height, width)))
    return dict(inputs=[img], data_samples=[sample])


@pytest.mark.parametrize('mode', ['constant', 'reflect', 'replicate'])
def test_preprocessor_pads_to_a_multiple_of_14_and_records_it(mode):
    model = model_with(dict(type='CrackDataPreProcessor',
                            test_cfg=dict(size_divisor=14, pad_mode=mode)))
    plain = model_with()
    data = model.data_preprocessor(image_batch(), False)
    image = plain.data_preprocessor(image_batch(), False)['inputs'][0]
    padded = data['inputs'][0]
    assert padded.shape[-2:] == (42, 70)
    assert torch.equal(padded[:, :HEIGHT, :WIDTH], image)
    meta = data['data_samples'][0].metainfo
    assert tuple(meta['img_padding_size']) == (0, 9, 0, 2)
    assert tuple(meta['pad_shape']) == (42, 70)
    expected = {
        'constant': torch.zeros(3, 2, WIDTH),  # pad_val 0 = mean colour
        'reflect': image[:, [HEIGHT - 2, HEIGHT - 3], :],
        'replicate': image[:, [HEIGHT - 1, HEIGHT - 1], :],
    }[mode]
    assert torch.equal(padded[:, HEIGHT:, :WIDTH], expected)


def test_bad_pad_mode_is_an_error():
    with pytest.raises(ValueError, match='pad_mode'):
        model_with(dict(type='CrackDataPreProcessor',
                        test_cfg=dict(size_divisor=14, pad_mode='wrap')))


@pytest.mark.parametrize('mode', ['constant', 'reflect'])
def test_whole_image_prediction_is_the_padded_prediction_cropped(mode):
    """Each pixel's prediction is the model's output at that pixel of the
    padded input: the padding is cropped, not squeezed into the image."""
    model = model_with(dict(type='CrackDataPreProcessor',
                            test_cfg=dict(size_divisor=14, pad_mode=mode)))
    with torch.no_grad():
        result = model.test_step(image_batch())[0]
        data = model.data_preprocessor(image_batch(), False)
        logits = model.encode_decode(data['inputs'], [dict(
            img_shape=(42, 70), pad_shape=(42, 70))])
    assert result.seg_logits.data.shape == (1, HEIGHT, WIDTH)
    torch.testing.assert_close(result.seg_logits.data,
                               logits[0, :, :HEIGHT, :WIDTH].sigmoid())


def test_unrecorded_backbone_padding_shifts_the_prediction():
    """Without the preprocessor's padding the backbone pads to 42 x 70
    itself and MMSeg resizes that prediction into 40 x 61: the old whole-
    image test, whose output differs from the padded prediction cropped."""
    padded = model_with(dict(test_cfg=dict(size_divisor=14)))
    unpadded = model_with()
    with torch.no_grad():
        right = padded.test_step(image_batch())[0].seg_logits.data
        shifted = unpadded.test_step(image_batch())[0].seg_logits.data
    assert (right - shifted).abs().max() > 1e-3


def test_sliding_windows_over_a_padded_image_never_pad_in_the_backbone():
    """A 40-row image under 56-pixel windows: padded to 42 rows first, so
    every window the ViT sees is a multiple of 14 and its prediction is
    cropped back to 40 rows."""
    model = model_with(dict(test_cfg=dict(size_divisor=14)),
                       dict(mode='slide', crop_size=(56, 56),
                            stride=(28, 28)))
    shapes = []
    model.backbone.register_forward_pre_hook(
        lambda _, args: shapes.append(tuple(args[0].shape[-2:])))
    image = image_batch(40, 100)
    with torch.no_grad():
        result = model.test_step(image)[0]
    assert result.seg_logits.data.shape == (1, 40, 100)
    assert shapes and all(h % 14 == 0 and w % 14 == 0 for h, w in shapes)
    assert (42, 56) in shapes


FULL_SIZE = [
    c for c in glob.glob(osp.join(REPO, 'configs', '**', '*448x448.py'),
                         recursive=True)
    if Config.fromfile(c).model.backbone.type == 'DINOv2'
]


@pytest.mark.parametrize('config', FULL_SIZE,
                         ids=lambda c: osp.relpath(c, REPO))
def test_full_size_dinov2_configs_test_by_windows_at_the_training_crop(
        config):
    model = Config.fromfile(config).model
    assert model.test_cfg.mode == 'slide'
    assert tuple(model.test_cfg.crop_size) == tuple(
        model.data_preprocessor.size) == (448, 448)
    assert model.data_preprocessor.test_cfg == dict(size_divisor=14)
