"""The eight-site study's wiring: photos read by key whatever their
extension, sources by training seed, and the threshold arms' records
that let margin rules be scored from the cached maps."""
import cv2
import numpy as np
import pytest

from script_modules import harness, script_module

bench = script_module('benchmarks/site_adaptation_cpu.py')
sites = harness('sites')
site_arms = harness('site_arms')
records = harness('records')


def write_toy_site(root, n=6, size=16):
    """A site whose photos are PNG or JPEG by turn, masks PNG 0/255 with
    one crack row (row = photo index) and an ignored row (grey 128)."""
    for split in ('train', 'test'):
        for kind in ('img', 'lab'):
            (root / 'Toy' / f'{split}_{kind}').mkdir(parents=True)
        for i in range(n):
            mask = np.zeros((size, size), np.uint8)
            mask[i + 2] = 255
            mask[0] = 128
            ext = '.png' if i % 2 else '.jpg'
            cv2.imwrite(str(root / 'Toy' / f'{split}_img' / f'p{i}{ext}'),
                        np.full((size, size, 3), 100, np.uint8))
            cv2.imwrite(str(root / 'Toy' / f'{split}_lab' / f'p{i}.png'),
                        mask)


class ToyCache:
    """Maps that find the crack at probability 0.3 (scale 1) or 0.8
    (scale 1.5); elsewhere 0.1, and 0.9 on the ignored row."""

    def __init__(self, args):
        self.args = args

    def get(self, site, split, key, scale):
        _, label = sites.read_photo(site, split, key, self.args)
        crack = {1.0: 0.3, 1.5: 0.8}.get(scale, 0.2)
        prob = np.where(label == 1, crack, 0.1)
        prob[label == 255] = 0.9
        return prob.astype(np.float32), 0.5


@pytest.fixture
def toy(tmp_path, monkeypatch):
    write_toy_site(tmp_path)
    monkeypatch.setattr(sites, 'TEST_IMAGES', 300)
    return bench.parse_args(['run', '--crack-sets-root', str(tmp_path),
                             '--ks', '1', '3', '--draws', '2'])


def test_photos_are_read_by_key_with_any_extension(toy):
    img, label = sites.read_photo('Toy', 'train', 'p0', toy)
    assert img.shape == (16, 16, 3)
    assert (label[2] == 1).all() and (label[0] == 255).all()
    assert sites.read_photo('Toy', 'test', 'p1', toy)[0] is not None
    with pytest.raises(FileNotFoundError, match='p9'):
        sites.read_photo('Toy', 'train', 'p9', toy)


def test_threshold_records_carry_the_photos_f_of_both_calibrations(toy):
    found = site_arms.calibration_arms(ToyCache(toy), 'Toy', toy)
    for k in (1, 3):
        for d in (0, 1):
            at1, best = found[('threshold', k, d)], \
                found[('threshold_scale', k, d)]
            # At 0.5 and scale 1 the crack (0.3) is missed: F 0 stored.
            assert at1['photos_f_stored'] == 0.0
            assert at1['photos_f_chosen'] == 100.0 and at1['scale'] == 1.0
            assert best['photos_f_stored'] == 0.0
            assert best['photos_f_chosen'] == 100.0
            assert at1['grid19']['photos_f_chosen'] == 100.0
            # The ignored row (0.9) never counts as a false alarm.
            assert at1['iou'] == 100.0
    assert found[('none', 0, 0)]['iou'] == 0.0


def test_margin_fields_missing_reruns_calibration(toy, tmp_path,
                                                  monkeypatch):
    monkeypatch.setattr(bench, 'RESULTS', str(tmp_path / 'r.json'))
    args = bench.parse_args(['run', '--ks', '1', '--draws', '1', '--arms',
                             'none', 'threshold'])
    records.record(bench.RESULTS, bench.result_key('s', 'X', 'none', 0, 0),
                   iou=1.0)
    records.record(bench.RESULTS, bench.result_key(
        's', 'X', 'threshold', 1, 0), iou=1.0)
    assert bench.calibration_missing('s', 'X', ['none', 'threshold'], args)
    records.record(bench.RESULTS, bench.result_key(
        's', 'X', 'threshold', 1, 0), iou=1.0, photos_f_stored=1.0,
        photos_f_chosen=2.0)
    assert not bench.calibration_missing('s', 'X', ['none', 'threshold'],
                                         args)


def test_a_seed_is_its_own_source(tmp_path, monkeypatch):
    assert sites.source_name('crackdino', 0) == 'crackdino'
    assert sites.source_parts('segformer@s2') == ('segformer', 2)
    with pytest.raises(ValueError, match='NAME@sSEED'):
        sites.source_parts('nosuch@s1')
    command = ' '.join(bench.train_command('segformer@s2', 'data/DC'))
    assert 'randomness.seed=2' in command
    assert 'work_dirs/site_adaptation/segformer@s2' in command
    monkeypatch.setattr(bench, 'RESULTS', str(tmp_path / 'r.json'))
    monkeypatch.setattr(bench, 'source_checkpoint', lambda name: __file__)
    monkeypatch.setattr(bench, 'MapCache', lambda source, args: source)
    calls = []
    monkeypatch.setattr(bench, 'adapt_arm', lambda cache, *a: calls.append(
        cache) or dict(iou=0.0, seconds=0.0))
    bench.cmd_run(bench.parse_args([
        'run', '--sources', 'segformer', '--seeds', '0', '1', '--arms',
        'finetune', '--ks', '5', '--draws', '1', '--sites', 'PaveSeg']))
    assert calls == ['segformer', 'segformer@s1']
    assert set(records.load(bench.RESULTS)) == {
        'segformer/PaveSeg/finetune/k5/d0',
        'segformer@s1/PaveSeg/finetune/k5/d0'}


def advice_results(sources=('segformer', 'crackdino')):
    """Every k on every site: calibration helps where the photos' F gains
    much (sites 0-5) and costs where it gains little (sites 6-7)."""
    results = {}
    for source in sources:
        for i, site in enumerate(bench.SITES):
            gain = 30.0 if i < 6 else 1.0
            for d in range(2):
                results[f'{source}/{site}/none/k0/d{d}'] = dict(iou=20.0)
                for arm in ('label_free_norm', 'label_free_otsu'):
                    results[f'{source}/{site}/{arm}/k0/d{d}'] = dict(
                        iou=19.0, seconds=4.0)
                for k in (1, 3, 5, 10):
                    for arm in ('threshold', 'threshold_scale'):
                        record = dict(iou=30.0 if i < 6 else 15.0,
                                      photos_f_stored=40.0,
                                      photos_f_chosen=40.0 + gain,
                                      seconds=3.0)
                        record['grid19'] = dict(record)
                        results[f'{source}/{site}/{arm}/k{k}/d{d}'] = record
    return results


def test_advice_block_is_written_only_when_every_site_is_measured(
        tmp_path, monkeypatch):
    results = advice_results()
    block = bench.advice_block(results)
    lines = block.split('\n')
    assert len(lines) == 2 + 2 * len(bench.KS)
    # k = 0: the label-free steps cost everywhere; the checkpoint stays.
    assert lines[2].startswith('| 0 | segformer | nothing')
    # k = 1: a margin keeps the stored calibration where the photos gain
    # little, so no held-out site loses.
    assert lines[3].startswith('| 1 | segformer | `--images --masks '
                               '--scales 1 --min-gain 20` | +7.5 [')
    assert '+0.0 |' in lines[3]
    for path in ('README.md', 'docs/user_guides/new_site.md'):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(
            'a\n<!-- results:readme-new-site -->\nold\n'
            '<!-- /results:readme-new-site -->\n'
            '<!-- results:site-adaptation-advice -->\n'
            '<!-- /results:site-adaptation-advice -->\n')
    monkeypatch.setattr(bench, 'REPO', str(tmp_path))
    bench.write_advice(results)
    text = (tmp_path / 'README.md').read_text()
    assert block in text and 'old' not in text
    assert block in (tmp_path / 'docs/user_guides/new_site.md').read_text()
    del results['crackdino/PaveSeg/threshold/k5/d0']
    del results['crackdino/PaveSeg/threshold/k5/d1']
    assert bench.advice_block(results) is None
