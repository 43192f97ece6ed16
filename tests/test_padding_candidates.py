"""benchmarks/padding_candidates.py: every candidate evaluates one
checkpoint (a distiller's as its student) and is reported."""
import importlib.util
import json
import os.path as osp

import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from crackdino_mm.apis import deployable_config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'crackdino_vit-t4_500it_synthetic-224x224.py')


def load_script():
    spec = importlib.util.spec_from_file_location(
        'padding_candidates',
        osp.join(REPO, 'benchmarks', 'padding_candidates.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_candidates_configure_the_model_as_named():
    script = load_script()
    model = deployable_config(Config.fromfile(CONFIG)).model
    whole = script.candidate_cfg(model, 'whole-backbone-pad', 28, 21)
    assert whole.test_cfg == dict(mode='whole')
    assert 'test_cfg' not in whole.data_preprocessor
    windows = script.candidate_cfg(model, 'slide-reflect-pad', 28, 21)
    assert windows.test_cfg == dict(mode='slide', crop_size=(28, 28),
                                    stride=(21, 21))
    assert windows.data_preprocessor.type == 'CrackDataPreProcessor'
    assert windows.data_preprocessor.test_cfg == dict(size_divisor=14,
                                                      pad_mode='reflect')


def test_every_candidate_is_measured(tmp_path, capsys):
    script = load_script()
    cfg = Config.fromfile(CONFIG)
    model_cfg = deployable_config(cfg).model
    model_cfg.backbone.img_size = 56
    model_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'student.pth')
    torch.save(dict(state_dict=MODELS.build(model_cfg).state_dict()),
               checkpoint)
    out = tmp_path / 'padding.json'
    assert script.main([
        CONFIG, checkpoint, '--crop', '28', '--limit', '2', '--out',
        str(out), '--cfg-options', 'model.backbone.img_size=56',
        'model.backbone.init_cfg=None',
        'test_dataloader.dataset.img_size=[40,61]',
        'test_dataloader.dataset.num_samples=2'
    ]) == 0
    results = json.loads(out.read_text())
    assert results['crop'] == 28 and results['stride'] == 21
    assert list(results['results']) == list(script.CANDIDATES)
    printed = capsys.readouterr().out
    for name in script.CANDIDATES:
        assert f'| {name} |' in printed
