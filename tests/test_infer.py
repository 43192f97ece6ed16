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

from script_modules import script_module  # noqa: E402

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
    assert list(rows[0])[3:] == ['area_mm2', 'length_mm', 'mean_width_mm',
                                 'max_width_mm', 'num_cracks']
    report = json.load(open(out / 'measurements.json'))
    assert [u['image'] for u in report['unreadable']] == [
        str(src / 'broken.png')]


@pytest.mark.parametrize('make,message', [
    (lambda tmp: tmp / 'nothing_here', 'does not exist'),
    (lambda tmp: tmp / 'no_photos*.jpg', 'does not exist'),
    (lambda tmp: (tmp / 'empty').mkdir() or tmp / 'empty',
     'holds no image'),
], ids=['missing', 'glob', 'empty-folder'])
def test_missing_input_is_one_line(tmp_path, make, message):
    """No traceback: one line naming the path and what is wrong with it,
    before any model is loaded."""
    path = str(make(tmp_path))
    proc = run_infer([CONFIG, 'no.pth', path, '--out-dir',
                      str(tmp_path / 'out')])
    assert proc.returncode == 2
    assert 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'infer.py: {path}: ') and message in last


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
        assert mask.min() == 255 and row['area_px2'] == 3000 * 4000
    elif case == 'noise':
        assert row['num_cracks'] > 500_000


def load_infer():
    return script_module('tools/infer.py')


def test_output_names_keep_same_named_photos_apart():
    infer = load_infer()
    assert infer.output_names(['a/x/IMG_1.jpg', 'a/y/IMG_1.jpg']) == [
        'x/IMG_1', 'y/IMG_1']
    assert infer.output_names(['a/IMG_1.jpg', 'a/IMG_1.png']) == [
        'IMG_1_jpg', 'IMG_1_png']
    assert infer.output_names(['a/IMG_1.jpg']) == ['IMG_1']


def test_threshold_and_scale_options_win(checkpoint, tmp_path):
    """The checkpoint's calibration is used unless --threshold/--scale."""
    from crackdino_mm.utils import write_calibration
    calibrated = str(tmp_path / 'calibrated.pth')
    torch.save(torch.load(checkpoint), calibrated)
    write_calibration(calibrated, threshold=0.3, scale=1.5)
    # A preprocessor that can resize test inputs.
    config = tmp_path / 'scalable.py'
    config.write_text(f'_base_ = [{CONFIG!r}]\nmodel = dict(data_preprocessor='
                      'dict(type="CrackDataPreProcessor"))\n')
    src = tmp_path / 'in'
    src.mkdir()
    cv2.imwrite(str(src / 'a.png'), np.full((64, 80, 3), 100, np.uint8))
    for extra, expected in (([], (0.3, 1.5)),
                            (['--threshold', '0.7', '--scale', '0.5'],
                             (0.7, 0.5))):
        out = tmp_path / f'out{len(extra)}'
        proc = run_infer([str(config), calibrated, str(src), '--out-dir',
                          str(out), *extra])
        assert proc.returncode == 0, proc.stderr[-2000:]
        stored = json.load(open(out / 'measurements.json'))
        assert (stored['threshold'], stored['scale']) == pytest.approx(
            expected)


# Every photo's prediction replaced by drawn cracks, 3 and 9 pixels wide,
# and a short piece: what is measured is then known.
DRAWN_RUNNER = """
import runpy, sys
import cv2, numpy as np
from crackdino_mm.apis import CrackPredictor
def drawn(self, img):
    h, w = img.shape[:2]
    prob = np.zeros((h, w), np.float32)
    cv2.line(prob, (10, 15), (w - 10, 25), 1.0, 3)
    cv2.line(prob, (10, h - 30), (w - 10, h - 20), 1.0, 9)
    cv2.line(prob, (w // 2, h // 2), (w // 2 + 4, h // 2), 1.0, 1)
    return prob
CrackPredictor.probability = drawn
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def truncated_copy(src, dst, fraction=1 / 3):
    data = open(src, 'rb').read()
    open(dst, 'wb').write(data[:int(len(data) * fraction)])


def test_own_photos(checkpoint, tmp_path):
    """Same-named photos in two folders, truncated files, units."""
    photo = np.random.default_rng(0).integers(60, 200, (320, 480, 3),
                                              np.uint8)
    for folder in ('dirA', 'dirB'):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / 'IMG_0001.jpg'), photo)
    cv2.imwrite(str(tmp_path / 'whole.png'), photo)
    truncated_copy(tmp_path / 'dirA' / 'IMG_0001.jpg',
                   tmp_path / 'dirB' / 'cut.jpg')
    truncated_copy(tmp_path / 'whole.png', tmp_path / 'dirB' / 'cut.png')
    # OpenCV decodes the truncated JPEG without a word.
    assert cv2.imread(str(tmp_path / 'dirB' / 'cut.jpg')) is not None
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, '-c', DRAWN_RUNNER,
         osp.join(REPO, 'tools', 'infer.py'), CONFIG, checkpoint,
         str(tmp_path / 'dirA'), str(tmp_path / 'dirB'), '--out-dir',
         str(out), '--mm-per-pixel', '0.1', '--min-length', '8'],
        capture_output=True, text=True, cwd=REPO)
    # Truncated files: not measured, named with the reason, rc 1.
    assert proc.returncode == 1, proc.stderr[-2000:]
    unreadable = json.load(open(out / 'measurements.json'))['unreadable']
    assert sorted(osp.basename(u['image']) for u in unreadable) == [
        'cut.jpg', 'cut.png']
    assert all('truncated' in u['reason'] for u in unreadable)
    index = open(out / 'index.html').read()
    assert 'cut.jpg' in index and 'truncated' in index
    # Same-named photos: each its own mask, overlay and page.
    for folder in ('dirA', 'dirB'):
        for sub, ext in (('masks', 'png'), ('overlays', 'jpg'),
                         ('photos', 'html'), ('thumbs', 'jpg')):
            assert (out / sub / folder / f'IMG_0001.{ext}').is_file()
        mask = cv2.imread(str(out / 'masks' / folder / 'IMG_0001.png'), 0)
        assert set(np.unique(mask)) == {0, 255}
    assert 'photos/dirA/IMG_0001.html' in index
    assert 'photos/dirB/IMG_0001.html' in index
    page = open(out / 'photos' / 'dirB' / 'IMG_0001.html').read()
    assert 'src="../../overlays/dirB/IMG_0001.jpg"' in page
    assert 'href="../../index.html"' in page
    # Units: one per column, rounded numbers, min length in pixels.
    rows = list(csv.DictReader(open(out / 'measurements.csv')))
    assert len(rows) == 2 and rows[0]['num_cracks'] == '2'
    for row in rows:
        for key in ('area_mm2', 'length_mm', 'max_width_mm'):
            assert len(row[key].split('.')[-1]) <= 6, row
    # The 9-pixel crack at 0.1 mm a pixel: about a millimetre wide.
    assert float(rows[0]['max_width_mm']) == pytest.approx(1.0, abs=0.25)
    assert 'min length: 8 px' in index and 'unit: mm' in index
    cracks = list(csv.DictReader(open(out / 'cracks.csv')))
    assert 'area_mm2' in cracks[0] and 'length_mm' in cracks[0]
    # The short piece, left out, is drawn grey on the overlay.
    overlay = cv2.imread(str(out / 'overlays' / 'dirA' / 'IMG_0001.jpg'))
    piece = overlay[160, 241:244].astype(int)
    assert (np.abs(piece - piece.mean(axis=1, keepdims=True)) < 25).all()
    assert piece.mean() > 150
    assert 'not measured' in page
