"""MMSeg's analysis tools (shipped in its wheel under mmseg/.mim/tools) on
the project's configs: analyze_logs.py on a training log with the crack
metrics, get_flops.py and benchmark.py on the student configs,
confusion_matrix.py on the masks of tools/test.py --out."""
import glob
import importlib.util
import json
import math
import os.path as osp
import subprocess
import sys

import cv2
import mmseg
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS

from script_modules import script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ANALYSIS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                    'analysis_tools')
DEMO_STUDENT = osp.join(REPO, 'configs', 'demo',
                        'crackdino-student_vit-t4_synthetic-224x224.py')
STUDENT_CONFIGS = [
    DEMO_STUDENT,
    osp.join(REPO, 'configs',
             'crackdino-distilled-student_dinov2-b_2k_deepcrack-448x448.py'),
    osp.join(REPO, 'configs', 'cpu_benchmark', 'crackdino-student-lipschitz_'
             'vit-w192d12_1k_deepcrack-224x224.py'),
    osp.join(REPO, 'configs', 'cpu_benchmark', 'crackdino-student-plainhead_'
             'vit-w192d12_1k_deepcrack-224x224.py'),
]


def run(args, cwd=REPO):
    proc = subprocess.run([sys.executable, *args], capture_output=True,
                          text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def save_student(config, path):
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


def median_probability(config, checkpoint, data):
    """The random model's median crack probability on the test images: as
    a threshold it predicts both classes, whatever the random weights."""
    from mmseg.apis import inference_model, init_model
    model = init_model(config, checkpoint, device='cpu')
    images = sorted(glob.glob(str(data / 'test_img' / '*')))
    probabilities = [inference_model(model, image).seg_logits.data.flatten()
                     for image in images]
    return f'{torch.cat(probabilities).median().item():.6f}'


def test_analyze_logs_plots_crack_metrics(tmp_path):
    """Two iterations with validation at each: a log with crack_iou/ods."""
    tiny = [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=1',
        'param_scheduler=[]', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.num_samples=2',
        'train_dataloader.dataset.img_size=(64,64)',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'val_dataloader.dataset.num_samples=1',
        'val_dataloader.dataset.img_size=(64,64)',
        'model.data_preprocessor.size=(64,64)', 'log_processor.window_size=1',
        'default_hooks.logger.interval=1'
    ]
    printed = run([osp.join(REPO, 'tools', 'train.py'), DEMO_STUDENT,
                   '--work-dir', str(tmp_path), '--cfg-options', *tiny])
    # The environment and config dump go to the log file only.
    text, = [open(f).read() for f in glob.glob(str(tmp_path / '*' / '*.log'))]
    for dumped in ('System environment', 'Config:'):
        assert dumped in text and dumped not in printed
    assert 'environment and config written to' in printed
    log, = glob.glob(str(tmp_path / '*' / 'vis_data' / 'scalars.json'))
    val = [json.loads(line) for line in open(log) if '"ods"' in line]
    assert [v['step'] for v in val] == [1, 2]
    out = str(tmp_path / 'curves.png')
    printed = run([osp.join(ANALYSIS, 'analyze_logs.py'), log, '--keys',
                   'crack_iou', 'ods', 'loss', '--backend', 'agg', '--out',
                   out])
    assert 'metric is crack_iou' in printed and 'metric is ods' in printed
    assert cv2.imread(out) is not None


@pytest.mark.parametrize(
    'config', STUDENT_CONFIGS, ids=lambda c: osp.relpath(c, REPO))
def test_get_flops_on_student_configs(config):
    printed = run([osp.join(ANALYSIS, 'get_flops.py'), config, '--shape',
                   '224', '224'])
    flops = float(printed.split('Flops:')[1].split()[0].rstrip('GMKT'))
    assert 'Input shape: (224, 224)' in printed and flops > 0


def test_benchmark_on_the_demo_student(tmp_path):
    """MMSeg's benchmark times 200 test images (and has no --cfg-options):
    a config with 200 small synthetic ones."""
    cfg = Config.fromfile(DEMO_STUDENT)
    synthetic = Config.fromfile(osp.join(
        REPO, 'configs', '_base_', 'datasets', 'synthetic_crack.py'))
    cfg.test_dataloader = synthetic.test_dataloader
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset.update(num_samples=200, img_size=(56, 56))
    # It preprocesses in training mode, which pads to a size.
    cfg.model.data_preprocessor.update(size=(56, 56), size_divisor=None)
    small = str(tmp_path / 'small.py')
    cfg.dump(small)
    checkpoint = save_student(small, str(tmp_path / 'student.pth'))
    run([osp.join(ANALYSIS, 'benchmark.py'), small, checkpoint,
         '--work-dir', str(tmp_path / 'fps')])
    result, = glob.glob(str(tmp_path / 'fps' / 'fps_*.json'))
    fps = json.load(open(result))['average_fps']
    assert math.isfinite(fps) and fps > 0


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ANALYSIS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_confusion_matrix_on_test_masks(tmp_path):
    """tools/test.py --out writes 0/255 masks; as 0/1 labels MMSeg's
    confusion_matrix.py reads them."""
    data = tmp_path / 'data'
    run([osp.join(REPO, 'tools', 'make_synthetic_dataset.py'), '--out',
         str(data), '--num-train', '1', '--num-test', '3', '--size', '70',
         '98'])
    cfg = Config.fromfile(DEMO_STUDENT)
    cfg.test_dataloader = Config.fromfile(osp.join(
        REPO, 'configs', '_base_', 'datasets',
        'deepcrack.py')).test_dataloader
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset.data_root = str(data)
    cfg.model.data_preprocessor.size = None
    config = str(tmp_path / 'on_disk.py')
    cfg.dump(config)
    checkpoint = save_student(config, str(tmp_path / 'student.pth'))
    masks = tmp_path / 'masks'
    run([osp.join(REPO, 'tools', 'test.py'), config, checkpoint,
         '--work-dir', str(tmp_path / 'w'), '--out', str(masks),
         '--threshold', median_probability(config, checkpoint, data)])
    labels = tmp_path / 'labels'
    labels.mkdir()
    for mask in masks.glob('*.png'):
        cv2.imwrite(str(labels / mask.name), cv2.imread(str(mask), 0) // 255)
    masks = labels
    plots = tmp_path / 'plots'
    run([osp.join(ANALYSIS, 'confusion_matrix.py'), config, str(masks),
         str(plots)])
    assert cv2.imread(str(plots / 'confusion_matrix.png')) is not None
    # Its counts are the pixel counts of (label, prediction) pairs.
    dataset = DATASETS.build(Config.fromfile(config).test_dataloader.dataset)
    preds = [cv2.imread(str(p), 0) for p in sorted(masks.glob('*.png'))]
    matrix = load_tool('confusion_matrix').calculate_confusion_matrix(
        dataset, preds)
    expected = np.zeros((2, 2))
    for index, pred in enumerate(preds):
        gt = cv2.imread(dataset.get_data_info(index)['seg_map_path'], 0) > 127
        for label in (0, 1):
            for guess in (0, 1):
                expected[label, guess] += ((gt == label) &
                                           (pred == guess)).sum()
    assert np.array_equal(matrix, expected)
    assert expected[:, 1].sum() > 0 and expected[:, 0].sum() > 0


def test_the_demo_prints_a_photos_command_that_runs(tmp_path):
    """The command the demo prints at its end runs its student on a
    folder of photos and writes the report."""
    demo = script_module('tools/demo.py')
    student = str(tmp_path / 'student.pth')
    save_student(osp.join(demo.CONFIGS, demo.STUDENT), student)
    photos = tmp_path / 'photos'
    photos.mkdir()
    cv2.imwrite(str(photos / 'a.jpg'), np.full((120, 170, 3), 128,
                                                np.uint8))
    out = tmp_path / 'report'
    command = demo.photos_command(student, str(photos), str(out)).split()
    assert command[:2] == ['python', 'tools/infer.py']
    run(command[1:])
    assert (out / 'index.html').is_file()
