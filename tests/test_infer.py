"""tools/infer.py end to end: inputs, sliding windows on a large photo with
bounded memory, masks, overlays and measurements."""
import csv
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from script_modules import script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'crackdino-student_vit-t4_synthetic-224x224.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A randomly initialised student saved as a plain checkpoint.

    Seeded, so its predictions do not depend on the tests run before.
    """
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'student.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def run_infer(args):
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'infer.py'), *args],
        capture_output=True, text=True, cwd=REPO)
    return proc


def test_folder_glob_and_bad_files(checkpoint, tmp_path):
    src = tmp_path / 'in'
    src.mkdir()
    for i, size in enumerate([(100, 130), (224, 224)]):
        cv2.imwrite(str(src / f'photo{i}.jpg'),
                    np.random.randint(0, 255, (*size, 3), np.uint8))
    (src / 'broken.png').write_bytes(b'not an image')
    out = tmp_path / 'out'
    proc = run_infer([CONFIG, checkpoint, str(src), '--out-dir', str(out),
                      '--mm-per-pixel', '0.5'])
    # The broken file is reported by name and the others are still written.
    assert proc.returncode == 1
    assert 'broken.png' in proc.stderr
    assert sorted(p.name for p in (out / 'masks').iterdir()) == [
        'photo0.png', 'photo1.png']
    mask = cv2.imread(str(out / 'masks' / 'photo0.png'), 0)
    assert mask.shape == (100, 130) and set(np.unique(mask)) <= {0, 255}
    assert (out / 'overlays' / 'photo1.jpg').is_file()
    rows = list(csv.DictReader(open(out / 'measurements.csv')))
    assert [r['unit'] for r in rows] == ['mm', 'mm']
    report = json.load(open(out / 'measurements.json'))
    assert report['unreadable'] == [str(src / 'broken.png')]
    # A glob and a missing input.
    proc = run_infer([CONFIG, checkpoint, str(src / 'photo*.jpg'),
                      str(tmp_path / 'nothing_here'), '--out-dir', str(out)])
    assert proc.returncode != 0
    assert 'nothing_here' in proc.stderr


# Runs tools/infer.py (argv[2:]) in a fresh interpreter that prints its own
# peak RSS: VmHWM, the high-water mark of this process's memory map. (Not
# getrusage's ru_maxrss: Linux carries the parent's peak across fork and
# exec, so under a long pytest run it reports pytest's size.) With
# argv[1] == 'noise', every window's prediction is replaced by pixel noise
# (logits of uniform probabilities), the most pieces a mask can have, and
# OpenCV and PyTorch use 32 threads, as on a many-core machine.
PEAK_RSS_RUNNER = """
import runpy, sys
if sys.argv[1] == 'noise':
    import cv2, torch
    from mmseg.models import EncoderDecoder
    cv2.setNumThreads(32)
    torch.set_num_threads(32)
    torch.manual_seed(0)
    def noise(self, inputs, metas):
        p = torch.rand(inputs.shape[0], 1, *inputs.shape[2:])
        return p.log() - (-p).log1p()
    EncoderDecoder.whole_inference = noise
sys.argv = sys.argv[2:]
code = 0
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit as e:
    code = e.code
with open('/proc/self/status') as status:
    peak = next(line for line in status if line.startswith('VmHWM:'))
print('PEAK_KIB', peak.split()[1])
sys.exit(code)
"""


@pytest.fixture(scope='module')
def large_photo(tmp_path_factory):
    from crackdino_mm.datasets.crack_renderer import render_crack_sample
    img, _ = render_crack_sample(np.random.default_rng(0), 3000, 4000)
    path = str(tmp_path_factory.mktemp('photo') / 'large.jpg')
    cv2.imwrite(path, img)
    return path


@pytest.mark.parametrize('case,args', [
    ('model', []),
    # Every pixel a crack: the most painted and thinned pixels.
    ('dense', ['--threshold', '0.01']),
    # One in five pixels, mostly isolated: the most connected pieces.
    ('noise', ['--threshold', '0.8']),
], ids=['model', 'dense', 'noise'])
def test_large_photo_slides_with_bounded_memory(checkpoint, large_photo,
                                                tmp_path, case, args):
    """A 4000x3000 photo: sliding windows, peak memory well under 4 GiB
    whatever the prediction."""
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, '-c', PEAK_RSS_RUNNER,
         'noise' if case == 'noise' else 'model',
         osp.join(REPO, 'tools', 'infer.py'), CONFIG, checkpoint,
         large_photo, '--out-dir', str(out), '--crop-size', '224',
         '--stride', '224', *args],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak_kib = int(proc.stdout.split('PEAK_KIB')[-1].split()[0])
    assert peak_kib < 4 * 1024 * 1024, f'{case}: peak {peak_kib} KiB'
    mask = cv2.imread(str(out / 'masks' / 'large.png'), 0)
    assert mask.shape == (3000, 4000)
    row = json.load(open(out / 'measurements.json'))['images'][0]
    if case == 'dense':
        assert mask.min() == 255 and row['area'] == 3000 * 4000
    elif case == 'noise':
        assert row['num_cracks'] > 500_000


def infer_module():
    return script_module('tools/infer.py')


def mmseg_probability(model, img, test_cfg):
    """MMSeg's own prediction (inference_model) under ``test_cfg``."""
    from mmengine.config import ConfigDict
    from mmseg.apis import inference_model

    from crackdino_mm.evaluation import CrackMetric
    saved, model.test_cfg = model.test_cfg, ConfigDict(test_cfg)
    try:
        result = inference_model(model, img)
    finally:
        model.test_cfg = saved
    return CrackMetric.crack_probability(result.seg_logits.data).numpy()


@pytest.mark.parametrize('batch_size', [1, 4])
def test_windows_come_from_the_config(tmp_path, batch_size):
    """A slide config: windows of its test_cfg crop and stride, averaged as
    MMSeg's slide inference averages them, in batches of windows."""
    from mmseg.apis import init_model
    infer = infer_module()
    config = osp.join(REPO, 'configs', 'cpu_benchmark', 'crackdino-student-'
                      'lipschitz_vit-w192d12_1k_deepcrack-224x224.py')
    torch.manual_seed(0)
    model = init_model(config, None, 'cpu')
    args = infer.parse_args([config, 'ckpt', 'x', '--batch-size',
                             str(batch_size)])
    plan = infer.WindowPlan(model.cfg, args)
    assert (plan.mode, plan.crop, plan.stride) == ('slide', (224, 224),
                                                  (160, 160))
    img = np.random.default_rng(0).integers(0, 255, (300, 400, 3), np.uint8)
    np.testing.assert_allclose(
        plan.crack_probability(model, img),
        mmseg_probability(model, img, model.cfg.model.test_cfg), atol=1e-5)


def test_whole_config_slides_only_large_photos(checkpoint):
    from mmseg.apis import init_model
    infer = infer_module()
    model = init_model(CONFIG, checkpoint, 'cpu')
    img = np.random.default_rng(1).integers(0, 255, (150, 260, 3), np.uint8)
    args = infer.parse_args([CONFIG, checkpoint, 'x'])
    plan = infer.WindowPlan(model.cfg, args)
    assert plan.mode == 'whole' and plan.max_whole_pixels == 4 * 224 * 224
    np.testing.assert_allclose(
        plan.crack_probability(model, img),
        mmseg_probability(model, img, dict(mode='whole')), atol=1e-5)
    # Over the limit: windows of the training crop, stride 3/4 of it.
    args = infer.parse_args([CONFIG, checkpoint, 'x', '--max-whole-pixels',
                             '1000'])
    plan = infer.WindowPlan(model.cfg, args)
    assert (plan.crop, plan.stride) == ((224, 224), (168, 168))
    np.testing.assert_allclose(
        plan.crack_probability(model, img),
        mmseg_probability(model, img, dict(mode='slide', crop_size=(224, 224),
                                           stride=(168, 168))), atol=1e-5)
