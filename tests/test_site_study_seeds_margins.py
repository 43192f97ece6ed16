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


def test_new_site_table_is_site_level_against_as_is(monkeypatch):
    """The default per k (leave-one-site-out) and the optional steps,
    each with the site as the unit."""
    monkeypatch.setattr(bench, 'SITES', ('A', 'B', 'C'))
    # Optional step: fine-tuning at k = 5 gains 10 and 20 at site A's two
    # draws (mean 15), 5 at B, -1 at C's one draw; norm statistics and
    # k = 10 are unmeasured. Calibration at k = 1: the photos gain 30 F
    # points at A and B (IoU +10) and 3 at C (IoU -4).
    results = {}
    for site, as_is, tuned in (('A', (10.0, 10.0), (20.0, 30.0)),
                               ('B', (20.0, 20.0), (25.0, 25.0)),
                               ('C', (30.0, ), (29.0, ))):
        for source in ('segformer', 'crackdino'):
            for d, (a, b) in enumerate(zip(as_is, tuned)):
                results[f'{source}/{site}/none/k0/d{d}'] = dict(
                    iou=a, seconds=0.0)
                results[f'{source}/{site}/finetune/k5/d{d}'] = dict(
                    iou=b, seconds=2.0 + d)
                gain, change = (3.0, -4.0) if site == 'C' else (30.0, 10.0)
                for arm in ('threshold', 'threshold_scale'):
                    record = dict(iou=a + change, photos_f_stored=40.0,
                                  photos_f_chosen=40.0 + gain, seconds=1.5)
                    record['grid19'] = dict(record)
                    results[f'{source}/{site}/{arm}/k1/d{d}'] = record
    results['crackdino@s1/A/finetune/k5/d0'] = dict(iou=10.0, seconds=5.0)
    # Distillation on site photos at k = 10, the full method only: +1, +2
    # and +3 at the sites' first draws.
    for site, as_is, gain in (('A', 10.0, 1.0), ('B', 20.0, 2.0),
                              ('C', 30.0, 3.0)):
        results[f'crackdino/{site}/finetune_distill/k10/d0'] = dict(
            iou=as_is + gain, seconds=7.0)
    lines = bench.new_site_table(results).split('\n')
    # On all sites, margin 20 keeps C as is and calibrates A and B (the
    # tool's grid first among equals); held out, each site gets the same
    # rule: gains 10, 10, 0, PI mean +- t(2) * sd * sqrt(1 + 1/3).
    assert lines[2] == (
        '| 1 | the threshold of best F on the photos, if their F gains 20 '
        'points or more | +6.7 [-22.0, +35.4] | +0.0 (C) | 3 | 2 s |')
    assert len(lines) == 3 + 3 + len(bench.OPTIONAL_STEPS)
    assert 'not measured' in lines[6]
    k5 = lines[7].split(' | ')
    assert k5[0] == '| 5'
    # segformer: mean of 15, 5, -1 over three sites; worst C.
    assert k5[2].startswith('+6.3 [PI ') and k5[2].endswith(
        ', worst -1.0 (C), 3 sites')
    # crackdino: the seed-1 draw adds no pair (no seed-1 as is), so the
    # site-level change is the same; its seconds count.
    assert k5[3] == k5[2]
    assert k5[4] == '2 s / 3 s |'
    assert 'not measured' in lines[8]
    # SegFormer has no teachers to distil with; the full method: mean 2,
    # sd 1, PI 2 +- t(2) * sqrt(1 + 1/3) = 2 +- 4.97.
    distil = lines[9].split(' | ')
    assert distil[2] == 'no teachers'
    assert distil[3] == '+2.0 [PI -3.0, +7.0], worst +1.0 (A), 3 sites'
    assert distil[4] == '- / 7 s |'
