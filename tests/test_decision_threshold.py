"""The decision threshold travels with the checkpoint: chosen on validation
data by tools/choose_threshold.py, then used by tools/test.py,
tools/infer.py and tools/export_onnx.py unless told otherwise."""
import json
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.apis import inference_model, init_model
from mmseg.registry import MODELS

from crackdino_mm.apis import init_crack_model
from crackdino_mm.utils import read_calibration, write_calibration

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STUDENT_CFG = osp.join(REPO, 'configs', 'demo',
                       'crackdino-student_vit-t4_synthetic-224x224.py')


def run(args):
    proc = subprocess.run([sys.executable, *args], capture_output=True,
                          text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def spread_model(cfg, photo):
    """Seeded random weights whose probabilities spread over (0, 1) (a
    random head's stay near one value): the classifier scaled up, its bias
    set so that the median logit of ``photo`` is 0."""
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    model.cfg = cfg
    classifier = model.decode_head.conv_seg
    with torch.no_grad():
        classifier.weight *= 300
        classifier.bias *= 300
        prob = inference_model(model, str(photo)).seg_logits.data
        classifier.bias -= prob.logit().median()
    return model


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Crack photos on disk (DeepCrack layout), the demo student validating
    and testing on them, and a checkpoint of seeded random weights."""
    root = tmp_path_factory.mktemp('threshold')
    data = root / 'data'
    run([osp.join(REPO, 'tools', 'make_synthetic_dataset.py'), '--out',
         str(data), '--num-train', '1', '--num-test', '3', '--size', '70',
         '98'])
    cfg = Config.fromfile(STUDENT_CFG)
    loader = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets',
                                      'deepcrack.py')).test_dataloader
    loader.update(num_workers=0, persistent_workers=False)
    loader.dataset.data_root = str(data)
    cfg.val_dataloader = cfg.test_dataloader = loader
    cfg.model.data_preprocessor.size = None
    config = str(root / 'student_on_disk.py')
    cfg.dump(config)
    images = sorted((data / 'test_img').glob('*.jpg'))
    checkpoint = str(root / 'student.pth')
    torch.save(dict(state_dict=spread_model(cfg, images[0]).state_dict(),
                    meta=dict(dataset_meta=dict(
                        classes=('background', 'crack'),
                        palette=[[0, 0, 0], [255, 64, 0]]))), checkpoint)
    chosen = str(root / 'chosen.pth')
    log = run([osp.join(REPO, 'tools', 'choose_threshold.py'), config,
               checkpoint, '--out', chosen, '--out-config',
               str(root / 'chosen_config.py'), '--work-dir',
               str(root / 'w')])
    model = init_model(config, checkpoint, 'cpu')
    probs = {
        p.stem: inference_model(model, str(p)).seg_logits.data[0].numpy()
        for p in images
    }
    return dict(root=root, config=config, plain=checkpoint, chosen=chosen,
                log=log, images=images, probs=probs)


def test_choose_threshold_writes_the_best_ods_threshold(setup):
    threshold = read_calibration(setup['chosen'])['threshold']
    assert read_calibration(setup['plain'])['threshold'] is None
    assert f'decision threshold {threshold}' in setup['log']
    # The same images scored by tools/test.py: its ODS threshold.
    log = run([osp.join(REPO, 'tools', 'test.py'), setup['config'],
               setup['plain'], '--work-dir', str(setup['root'] / 't')])
    assert float(re.search(r'ods_threshold\s*\|\s*([0-9.]+)', log)
                 .group(1)) == threshold
    # The exported config carries it too, for MMSeg's own tools.
    cfg = Config.fromfile(str(setup['root'] / 'chosen_config.py'))
    assert cfg.model.decode_head.threshold == threshold
    # The checkpoint is otherwise unchanged.
    before = torch.load(setup['plain'], weights_only=False)
    after = torch.load(setup['chosen'], weights_only=False)
    assert after['meta'].pop('decision_threshold') == threshold
    assert after['meta'] == before['meta']
    assert all(torch.equal(before['state_dict'][k], v)
               for k, v in after['state_dict'].items())


def expected_masks(setup, threshold):
    masks = {stem: prob > threshold for stem, prob in setup['probs'].items()}
    # The random model's probabilities must straddle the threshold for the
    # masks to tell thresholds apart.
    assert any(0 < m.mean() < 1 for m in masks.values())
    return masks


@pytest.mark.parametrize('given', [None, 0.5])
def test_test_tool_uses_the_checkpoint_threshold(setup, given, tmp_path):
    threshold = given or read_calibration(setup['chosen'])['threshold']
    args = [osp.join(REPO, 'tools', 'test.py'), setup['config'],
            setup['chosen'], '--work-dir', str(tmp_path / 'w'), '--out',
            str(tmp_path / 'masks')]
    log = run(args + (['--threshold', str(given)] if given else []))
    assert f'decision threshold {threshold}' in log
    for stem, mask in expected_masks(setup, threshold).items():
        written = cv2.imread(str(tmp_path / 'masks' / f'{stem}.png'), 0)
        assert np.array_equal(written, mask.astype(np.uint8) * 255)


def test_infer_tool_uses_the_checkpoint_threshold(setup, tmp_path):
    threshold = read_calibration(setup['chosen'])['threshold']
    run([osp.join(REPO, 'tools', 'infer.py'), setup['config'],
         setup['chosen'], *map(str, setup['images']), '--out-dir',
         str(tmp_path), '--device', 'cpu'])
    report = json.load(open(tmp_path / 'measurements.json'))
    assert report['threshold'] == threshold
    for stem, mask in expected_masks(setup, threshold).items():
        written = cv2.imread(str(tmp_path / 'masks' / f'{stem}.png'), 0)
        assert np.array_equal(written, mask.astype(np.uint8) * 255)


def test_onnx_export_uses_the_checkpoint_threshold(setup, tmp_path):
    onnx = pytest.importorskip('onnx')
    onnxruntime = pytest.importorskip('onnxruntime')
    threshold = read_calibration(setup['chosen'])['threshold']
    out = str(tmp_path / 'student.onnx')
    run([osp.join(REPO, 'tools', 'export_onnx.py'), setup['config'],
         setup['chosen'], '--out', out, '--shape', '70', '98'])
    props = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert float(props['decision_threshold']) == threshold
    session = onnxruntime.InferenceSession(out)
    expected = expected_masks(setup, threshold)
    for path in setup['images']:
        img = cv2.imread(str(path)).transpose(2, 0, 1)[None]
        prob, mask = session.run(None, {'image': img.astype(np.float32)})
        np.testing.assert_allclose(prob[0, 0], setup['probs'][path.stem],
                                   atol=1e-4)
        decided = np.abs(prob[0, 0] - threshold) > 1e-4
        assert np.array_equal(mask[0, 0][decided],
                              expected[path.stem][decided])


def test_bad_thresholds_and_files_are_named(tmp_path, setup):
    with pytest.raises(ValueError, match='chosen.pth.*1.5'):
        write_calibration(setup['chosen'], threshold=1.5)
    bad = tmp_path / 'bad.pth'
    torch.save(dict(state_dict={}, meta=dict(decision_threshold='high')),
               bad)
    with pytest.raises(ValueError,
                       match="bad.pth.*decision_threshold.*'high'"):
        read_calibration(str(bad))
    torch.save([1, 2], bad)
    with pytest.raises(KeyError, match='bad.pth'):
        write_calibration(str(bad), threshold=0.3)


def test_choose_threshold_config_carries_the_scale(setup, tmp_path):
    """--out-config: MMSeg's init_model/inference_model predict with the
    chosen threshold and the checkpoint's test-time scale."""
    cfg = Config.fromfile(setup['config'])
    chosen = Config.fromfile(str(setup['root'] / 'chosen_config.py'))
    assert 'scale' not in (chosen.model.data_preprocessor.get('test_cfg')
                           or {})
    cfg.model.data_preprocessor.type = 'CrackDataPreProcessor'
    config = str(tmp_path / 'scalable.py')
    cfg.dump(config)
    scaled = write_calibration(setup['plain'], out=str(tmp_path / 's.pth'),
                               scale=0.75)
    out_config = str(tmp_path / 'calibrated.py')
    run([osp.join(REPO, 'tools', 'choose_threshold.py'), config, scaled,
         '--out-config', out_config, '--work-dir', str(tmp_path / 'w')])
    calibration = read_calibration(scaled)
    assert calibration['scale'] == 0.75
    model = init_model(out_config, scaled, 'cpu')
    assert model.decode_head.threshold == calibration['threshold']
    assert model.data_preprocessor.test_scale == 0.75
    photo = str(setup['images'][0])
    result = inference_model(model, photo)
    expected = inference_model(init_crack_model(config, scaled), photo)
    assert torch.equal(result.seg_logits.data, expected.seg_logits.data)
    assert torch.equal(result.pred_sem_seg.data, expected.pred_sem_seg.data)
    unscaled = inference_model(init_model(config, scaled, 'cpu'), photo)
    assert not torch.allclose(result.seg_logits.data,
                              unscaled.seg_logits.data)


def test_test_tool_refuses_a_checkpoint_of_another_model(setup, tmp_path):
    """mmengine loads non-strictly; tools/test.py fails in one line naming
    both files instead of scoring a half-random model."""
    state = torch.load(setup['plain'], weights_only=False)['state_dict']
    wrong = str(tmp_path / 'wrong.pth')
    torch.save(dict(state_dict={k: v for k, v in state.items()
                                if not k.startswith('neck.')}), wrong)
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'test.py'),
                           setup['config'], wrong, '--work-dir',
                           str(tmp_path / 'w')],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith('test.py: checkpoint ' + wrong), line
    assert setup['config'] in line and 'Traceback' not in proc.stderr
