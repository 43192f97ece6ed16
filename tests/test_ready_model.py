"""The ready CPU model: named by the README, tools/adapt.py --help and the
demo; the README's command runs as written on a folder of photos; its
card's figures are the recorded ones."""
import math
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from crackdino_mm.apis import (READY_CPU_CHECKPOINT, READY_CPU_CONFIG,
                               ready_model_command)
from crackdino_mm.apis.calibration_default import CalibrationRule
from script_modules import harness, script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def readme_commands(path):
    """The commands of a Markdown file's bash blocks, continuation lines
    joined."""
    text = open(osp.join(REPO, path)).read()
    blocks = re.findall(r'```bash\n(.*?)```', text, re.S)
    joined = '\n'.join(blocks).replace('\\\n', ' ')
    return [' '.join(line.split()) for line in joined.splitlines()]


def test_the_readme_command_runs_the_ready_model_on_a_photo_folder(
        tmp_path):
    assert osp.isfile(osp.join(REPO, READY_CPU_CONFIG))
    assert osp.isfile(osp.join(REPO, READY_CPU_CHECKPOINT))
    command = ready_model_command()
    assert command in readme_commands('README.md')
    photos = tmp_path / 'photos'
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        img = rng.integers(120, 200, (180, 260, 3), dtype=np.uint8)
        cv2.line(img, (20 + 40 * i, 0), (90, 179), (40, 40, 40), 3)
        cv2.imwrite(str(photos / f'{i}.jpg'), img)
    out = tmp_path / 'report'
    # As written, the placeholder and the output folder aside.
    args = command.replace('YOUR_PHOTOS/', f'{photos}/').replace(
        'work_dirs/my_photos', str(out)).split()
    assert args[:2] == ['python', 'tools/infer.py']
    run = subprocess.run([sys.executable, *args[1:]], capture_output=True,
                         text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / 'index.html').is_file()
    assert sorted(p.name for p in (out / 'masks').iterdir()) == [
        '0.png', '1.png']


def test_adapt_help_names_the_ready_model():
    run = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'adapt.py'), '--help'],
        capture_output=True, text=True, cwd=REPO)
    assert READY_CPU_CONFIG in run.stdout
    assert READY_CPU_CHECKPOINT in run.stdout


def test_the_demo_ends_with_its_report_and_the_ready_model():
    demo = script_module('tools/demo.py')
    message = demo.closing_message('work_dirs/demo/metrics.md',
                                   osp.join(REPO, 'work_dirs/demo/s.pth'))
    lines = message.strip().splitlines()
    assert lines[0] == 'report: work_dirs/demo/metrics.md'
    assert lines[-1].strip() == ready_model_command()
    assert 'xdg-open' not in message


def test_the_card_and_the_readme_times_are_the_recorded_ones():
    bench = script_module('benchmarks/ready_model_cpu.py')
    if not osp.isfile(bench.RESULTS):
        pytest.skip(f'{bench.RESULTS} not recorded yet')
    blocks = harness('blocks')
    assert blocks.current('ready-model', 'configs/cpu_benchmark/README.md') \
        == bench.card_block()
    assert blocks.current('ready-model-times', 'README.md') == \
        bench.times_block()


def test_the_card_scores_the_tools_default_for_5_photos(monkeypatch):
    """The card's 5-photo column is what the tool's default rule for 5
    photos gives at each draw: the calibration where the photos' F clears
    its margin, else the checkpoint as is."""
    bench = script_module('benchmarks/ready_model_cpu.py')
    monkeypatch.setattr(bench, 'SITES', ('A', ))
    monkeypatch.setattr(bench, 'default_rule',
                        lambda k: CalibrationRule(10.0, math.inf, 99))
    results = {'segformer/A/none/k0/d0': dict(iou=10.0),
               'segformer/A/none/k0/d1': dict(iou=20.0),
               'segformer/A/oracle_threshold_scale/k0/d0': dict(iou=40.0)}
    for d, (iou, gain) in enumerate(((30.0, 15.0), (5.0, 5.0))):
        results[f'segformer/A/threshold/k5/d{d}'] = dict(
            iou=iou, photos_f_stored=50.0, photos_f_chosen=50.0 + gain)
    results['segformer/A/threshold_scale/k5/d0'] = dict(
        iou=99.0, photos_f_stored=50.0, photos_f_chosen=90.0)
    (site, cells), = bench.crack_set_rows(results)
    assert site == 'A'
    assert cells == dict(none=15.0, default=25.0,
                         oracle_threshold_scale=40.0)
