"""The model-zoo cards (README.md + metafile.yml per config folder): every
config listed once, its card's figures those of the recorded runs, no
weights."""
import glob
import json
import os.path as osp
import re

import pytest
import yaml

from script_modules import script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RESULTS = json.load(
    open(osp.join(REPO, 'benchmarks', 'results', 'deepcrack_cpu.json')))
BY_CONFIG = {e['train']['config']: e for e in RESULTS.values()}
TRANSFER = json.load(
    open(osp.join(REPO, 'benchmarks', 'results', 'crack_transfer_cpu.json')))
METRIC_KEYS = {'crack IoU': 'crack_iou', 'crack F1': 'crack_f1',
               'precision': 'precision', 'recall': 'recall', 'mIoU': 'miou',
               'ODS': 'ods', 'OIS': 'ois', 'AP': 'ap'}
METAFILES = yaml.safe_load(open(osp.join(REPO, 'model-index.yml')))['Import']


def configs_in(folder):
    return sorted(
        osp.relpath(p, REPO)
        for p in glob.glob(osp.join(REPO, folder, '*.py')))


def models(metafile):
    return yaml.safe_load(open(osp.join(REPO, metafile)))['Models']


def test_every_config_is_on_its_folders_card():
    folders = sorted({'configs'} | {
        osp.dirname(osp.relpath(p, REPO))
        for p in glob.glob(osp.join(REPO, 'configs', '*', '*.py'))
    } - {'configs/_base_'})
    assert sorted(osp.dirname(m) for m in METAFILES) == folders
    for metafile in METAFILES:
        folder = osp.dirname(metafile)
        card = yaml.safe_load(open(osp.join(REPO, metafile)))
        listed = [m['Config'] for m in card['Models']]
        assert sorted(listed) == configs_in(folder), metafile
        readme = card['Collections'][0]['README']
        assert readme == osp.join(folder, 'README.md')
        text = open(osp.join(REPO, readme)).read()
        for model in card['Models']:
            assert model['Name'] == osp.splitext(
                osp.basename(model['Config']))[0]
            assert model['Name'] in text, (readme, model['Name'])
            assert 'Weights' not in model
        assert 'No weights are published' in text


def transfer_measured_configs():
    """Configs with a test or probe result in the crack-transfer record
    (every probe runs the benchmark's one probe config)."""
    entries = [e for name, e in TRANSFER.items() if name != 'superseded']
    probe = script_module('benchmarks/crack_transfer_cpu.py').PROBE_CONFIG
    return {e['train']['config'] for e in entries if e.get('test')} | (
        {probe} if any(e.get('probe_test') for e in entries) else set())


def test_cpu_scale_figures_are_the_recorded_ones():
    transfer = transfer_measured_configs()
    for model in models('configs/cpu_benchmark/metafile.yml'):
        entry = BY_CONFIG.get(model['Config'])
        if entry is None:  # no figures on the card: measured elsewhere or not
            assert 'Results' not in model
            assert model['Metadata']['Measured'].startswith(
                ('crack-transfer benchmark', ) if model['Config'] in transfer
                else ('not yet', 'not run: ')), model['Config']
            continue
        metrics = model['Results'][0]['Metrics']
        assert metrics == {name: entry['test']['metrics'][key]
                           for name, key in METRIC_KEYS.items()}
        assert 'CPU scale' in model['Metadata']['Scale']
        assert model['Metadata'][
            'Inference (images/s, 448x448, 2 CPU threads)'] == entry[
                'speed']['inference_images_per_second_448']


def recorded_figures(entry):
    values = list(entry['test']['metrics'].values()) + [
        entry['speed']['inference_images_per_second_448'],
        entry['train']['train_wall_seconds']
    ]
    return {f'{v:.2f}' for v in values} | {f'{v:.0f}' for v in values}


@pytest.mark.parametrize('readme', [
    'configs/README.md', 'configs/ablations/README.md',
    'configs/baselines/README.md', 'configs/cpu_benchmark/README.md'
])
def test_readme_figures_are_the_recorded_ones(readme):
    """Every figure in a table row that names a CPU-scale config is one of
    that run's recorded figures, and the card says they are CPU scale."""
    text = open(osp.join(REPO, readme)).read()
    assert 'CPU-scale results' in ' '.join(text.split())
    checked = 0
    for line in text.splitlines():
        names = re.findall(r'(?:cpu_benchmark/|\./)([\w.-]+_1k_deepcrack-'
                           r'224x224)\.py', line)
        if not names or not line.startswith('|'):
            continue
        entry = BY_CONFIG.get(f'configs/cpu_benchmark/{names[0]}.py')
        figures = [cell.strip() for cell in line.split('|')
                   if re.fullmatch(r'\s*\d+(\.\d+)?\s*', cell)]
        if entry is None:
            assert not figures, line
            continue
        assert figures and set(figures) <= recorded_figures(entry), line
        checked += 1
    assert checked
