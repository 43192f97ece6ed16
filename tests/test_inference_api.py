"""MMSeg's own inference API on every config family: inference_model,
MMSegInferencer, show_result_pyplot and the steps of MMSeg's
demo/image_demo.py, on photos of any size."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmseg.apis import (MMSegInferencer, inference_model, init_model,
                        show_result_pyplot)
from mmseg.registry import MODELS

from crackdino_mm.apis import CrackInferencer
from crackdino_mm.utils import write_calibration

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CRACK_META = dict(classes=('background', 'crack'),
                  palette=[[0, 0, 0], [255, 64, 0]])
FAMILIES = {
    # Synthetic demo: samples rendered in memory, loaders kept for photos.
    'demo-student': ('configs/demo/crackdino-student_vit-t4_synthetic-'
                     '224x224.py', {}),
    # Training config of the distilled model, as it is (its teachers' files
    # are not needed to predict): predictions by the student.
    'demo-distiller': ('configs/demo/crackdino_vit-t4_500it_synthetic-'
                       '224x224.py', {}),
    # DeepCrack pipeline (LoadCrackAnnotations), sliding windows.
    'deepcrack-student-cpu': ('configs/cpu_benchmark/crackdino-student-'
                              'lipschitz_vit-w192d12_1k_deepcrack-224x224.py',
                              {}),
}


def config_of(family, tmp_path):
    """The family's config with its overrides, written as a file."""
    path, options = FAMILIES[family]
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg.merge_from_dict(options)
    out = str(tmp_path / f'{family}.py')
    cfg.dump(out)
    return out


def save_checkpoint(config, path, threshold=None):
    """Random weights, seeded, with the meta a training run writes."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    meta = dict(dataset_meta=CRACK_META)
    if threshold is not None:
        meta['decision_threshold'] = threshold
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return path


@pytest.fixture(scope='module')
def photo(tmp_path_factory):
    """A photo whose sides are neither equal nor multiples of 14."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (100, 130, 3), dtype=np.uint8)
    path = str(tmp_path_factory.mktemp('photo') / 'photo.jpg')
    cv2.imwrite(path, img)
    return path


def check_crack_prediction(result, shape):
    assert result.pred_sem_seg.shape == shape
    assert set(result.pred_sem_seg.data.unique().tolist()) <= {0, 1}
    prob = result.seg_logits.data
    assert prob.shape == (1, *shape)
    assert 0 <= prob.min() and prob.max() <= 1
    # The mask is the probability at the decode head's threshold.
    assert torch.equal(result.pred_sem_seg.data.bool(), prob > 0.5)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_inference_model_and_image_demo(family, photo, tmp_path):
    config = config_of(family, tmp_path)
    checkpoint = save_checkpoint(config, str(tmp_path / 'model.pth'))
    # The steps of MMSeg's demo/image_demo.py.
    model = revert_sync_batchnorm(init_model(config, checkpoint, 'cpu'))
    result = inference_model(model, photo)
    check_crack_prediction(result, (100, 130))
    out_file = str(tmp_path / 'demo.jpg')
    show_result_pyplot(model, photo, result, draw_gt=False, show=False,
                       out_file=out_file)
    assert cv2.imread(out_file).shape == (100, 130, 3)
    # An image in memory and a batch give the same prediction.
    img = cv2.imread(photo)
    from_array, = inference_model(model, [img])
    assert torch.allclose(from_array.seg_logits.data,
                          result.seg_logits.data, atol=1e-6)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_mmseg_inferencer(family, photo, tmp_path):
    config = config_of(family, tmp_path)
    checkpoint = save_checkpoint(config, str(tmp_path / 'model.pth'))
    inferencer = MMSegInferencer(model=config, weights=checkpoint,
                                 device='cpu', show_progress=False)
    out_dir = tmp_path / 'out'
    result = inferencer([photo, photo], out_dir=str(out_dir),
                        return_vis=True)
    assert [p.shape for p in result['predictions']] == [(100, 130)] * 2
    assert result['visualization'][0].shape == (100, 130, 3)
    assert (out_dir / 'vis' / 'photo.jpg').is_file()
    mask = cv2.imread(str(out_dir / 'pred' / '00000000_pred.png'), 0)
    assert mask.shape == (100, 130) and set(np.unique(mask)) <= {0, 1}
    sample = inferencer(photo, return_datasamples=True)
    check_crack_prediction(sample, (100, 130))


def test_deployment_config_full_size(photo, tmp_path):
    """The DINOv2-B deployment config (random weights: no checkpoint)."""
    config = osp.join(
        REPO, 'configs',
        'crackdino-distilled-student_dinov2-b_2k_deepcrack-448x448.py')
    model = init_model(config, None, 'cpu')
    check_crack_prediction(inference_model(model, photo), (100, 130))


def test_crack_inferencer_uses_the_checkpoint_threshold(photo, tmp_path):
    config = config_of('demo-student', tmp_path)
    plain = save_checkpoint(config, str(tmp_path / 'plain.pth'))
    prob = CrackInferencer(config, plain, device='cpu')(
        photo, return_datasamples=True).seg_logits.data
    # Thresholds inside the range of this model's probabilities, so each
    # gives another mask.
    median, lower = (float(prob.quantile(q)) for q in (0.5, 0.25))
    chosen = str(tmp_path / 'chosen.pth')
    write_calibration(plain, out=chosen, threshold=median)
    masks = []
    for inferencer, threshold in [
        (CrackInferencer(config, chosen, device='cpu'), median),
        (CrackInferencer(config, plain, device='cpu'), 0.5),
        (CrackInferencer(config, chosen, threshold=lower, device='cpu'),
         lower),
    ]:
        sample = inferencer(photo, return_datasamples=True)
        assert inferencer.model.decode_head.threshold == threshold
        assert torch.equal(sample.pred_sem_seg.data.bool(),
                           sample.seg_logits.data > threshold)
        masks.append(sample.pred_sem_seg.data.sum())
    assert len(set(masks)) == 3
    with pytest.raises(ValueError, match='threshold'):
        CrackInferencer(config, plain, threshold=1.5, device='cpu')


def test_crack_inferencer_predicts_with_a_distillers_student(photo, tmp_path):
    """A distiller checkpoint gives its student, strictly loaded, at the
    stored threshold and scale; masks are 0/255, named after the photo."""
    path, _ = FAMILIES['demo-distiller']
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg.model.data_preprocessor.type = 'CrackDataPreProcessor'
    config = str(tmp_path / 'distiller.py')
    cfg.dump(config)
    student = save_checkpoint(config_of('demo-student', tmp_path),
                              str(tmp_path / 'student.pth'))
    checkpoint = torch.load(student, weights_only=False)
    checkpoint['state_dict']['teacher_centers.0'] = torch.zeros(3)
    checkpoint['meta'].update(decision_threshold=0.3, test_scale=0.75)
    distilled = str(tmp_path / 'distilled.pth')
    torch.save(checkpoint, distilled)
    inferencer = CrackInferencer(config, distilled, device='cpu')
    model = inferencer.model
    assert type(model).__name__ == 'EncoderDecoder'
    assert model.decode_head.threshold == 0.3
    assert model.data_preprocessor.test_scale == 0.75
    out = tmp_path / 'out'
    sample = inferencer(photo, return_datasamples=True,
                        out_dir=str(out))
    assert sample.pred_sem_seg.shape == (100, 130)
    written = cv2.imread(str(out / 'pred' / 'photo_pred.png'), 0)
    assert np.array_equal(written,
                          sample.pred_sem_seg.data[0].numpy() * 255)
    assert torch.equal(sample.pred_sem_seg.data.bool(),
                       sample.seg_logits.data > 0.3)
    with pytest.raises(ValueError, match='distilled.pth'):
        bad = dict(checkpoint, state_dict={
            k: v for k, v in checkpoint['state_dict'].items()
            if not k.startswith('decode_head.')})
        torch.save(bad, distilled)
        CrackInferencer(config, distilled, device='cpu')
