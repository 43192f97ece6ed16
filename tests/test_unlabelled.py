"""Predictions on images without labels: the dataset, CrackMetric and
tools/test.py --out / format_only."""
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS

from crackdino_mm.evaluation import CrackMetric, crack_metric

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STUDENT_CFG = osp.join(REPO, 'configs', 'demo',
                       'crackdino-student_vit-t4_synthetic-224x224.py')


def sample(seed, labelled=True, name='a.png'):
    rng = np.random.default_rng(seed)
    prob = torch.from_numpy(rng.random((1, 20, 30), dtype=np.float32))
    out = dict(img_path=name,
               seg_logits=dict(data=prob),
               pred_sem_seg=dict(data=(prob > 0.5).long()))
    if labelled:
        gt = torch.from_numpy(rng.integers(0, 2, (1, 20, 30)))
        out['gt_sem_seg'] = dict(data=gt)
    return out


def evaluate(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(len(samples))


@pytest.fixture
def messages(monkeypatch):
    """What CrackMetric logs."""
    logged = []
    monkeypatch.setattr(crack_metric, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    return logged


def test_nothing_to_score(messages):
    metrics = evaluate(CrackMetric(), [sample(0, False), sample(1, False)])
    assert metrics == {}
    assert messages == [
        'nothing to score: none of the 2 image(s) has a label']


def test_unlabelled_images_are_left_out(messages):
    mixed = evaluate(CrackMetric(), [sample(0), sample(1, False)])
    assert '1 image(s) without a label are not scored' in messages
    labelled = evaluate(CrackMetric(), [sample(0)])
    assert mixed == labelled and mixed['crack_iou'] > 0


def test_format_only_writes_masks_and_scores_nothing(tmp_path):
    metric = CrackMetric(format_only=True, output_dir=str(tmp_path))
    samples = [sample(0, name='x/one.jpg'), sample(1, False, 'two.jpg')]
    assert evaluate(metric, samples) == {}
    for name, s in zip(('one', 'two'), samples):
        mask = cv2.imread(str(tmp_path / f'{name}.png'), 0)
        assert np.array_equal(mask,
                              s['pred_sem_seg']['data'][0].numpy() * 255)
    with pytest.raises(ValueError, match='output_dir'):
        CrackMetric(format_only=True)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp('unlabelled')
    (root / 'photos').mkdir()
    rng = np.random.default_rng(0)
    for name, size in (('b', (60, 80)), ('a', (70, 98))):
        cv2.imwrite(str(root / 'photos' / f'{name}.jpg'),
                    rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    return root


def test_dataset_without_mask_folder(photos):
    dataset = DATASETS.build(dict(
        type='DeepCrackDataset', data_root=str(photos),
        data_prefix=dict(img_path='photos', seg_map_path=None),
        pipeline=Config.fromfile(STUDENT_CFG).test_pipeline))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [osp.basename(i['img_path']) for i in infos] == ['a.jpg', 'b.jpg']
    assert not any('seg_map_path' in i for i in infos)
    packed = dataset[1]
    assert packed['inputs'].shape == (3, 60, 80)
    assert 'gt_sem_seg' not in packed['data_samples']


@pytest.mark.parametrize('how', ['out', 'format_only'])
def test_test_tool_on_an_unlabelled_folder(photos, tmp_path, how):
    checkpoint = str(tmp_path / 'student.pth')
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(
        Config.fromfile(STUDENT_CFG).model).state_dict(), meta={}),
        checkpoint)
    # The demo student testing on the DeepCrack layout, then pointed at a
    # folder of photos as a user would.
    cfg = Config.fromfile(STUDENT_CFG)
    cfg.test_dataloader = Config.fromfile(osp.join(
        REPO, 'configs', '_base_', 'datasets',
        'deepcrack.py')).test_dataloader
    cfg.model.data_preprocessor.size = None
    config = str(tmp_path / 'on_disk.py')
    cfg.dump(config)
    masks = tmp_path / 'masks'
    options = [
        f'test_dataloader.dataset.data_root={photos}',
        'test_dataloader.dataset.data_prefix.img_path=photos',
        'test_dataloader.dataset.data_prefix.seg_map_path=None',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
    ]
    args = []
    if how == 'out':
        args = ['--out', str(masks)]
    else:
        options += ['test_evaluator.format_only=True',
                    f'test_evaluator.output_dir={masks}']
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'test.py'), config,
         checkpoint, '--work-dir', str(tmp_path / 'w'), *args,
         '--cfg-options', *options],
        capture_output=True, text=True, cwd=REPO)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert ('nothing to score' if how == 'out' else 'nothing scored') in log
    for name, shape in (('a', (70, 98)), ('b', (60, 80))):
        mask = cv2.imread(str(masks / f'{name}.png'), 0)
        assert mask.shape == shape and set(np.unique(mask)) <= {0, 255}
