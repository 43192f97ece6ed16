"""The calibration margins: a threshold and scale chosen on k photos replace
the checkpoint's only if their F on the photos beats it by ``min_gain``
(``0`` always takes the choice, ``inf`` never), and a new scale only if it
beats the best threshold alone by ``scale_min_gain``; what is not given
follows the default rule for the number of photos."""
import json
import math
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from crackdino_mm.apis import (adapt_to_site, calibration_default,
                               choose_calibration, init_crack_model,
                               load_site_photos, site_calibration)
from crackdino_mm.utils import SCALE_GRID, apply_calibration, read_calibration
from script_modules import script_module
# The site adaptation tests' module fixtures: a random student, a site.
from test_site_adaptation import STUDENT, site, student  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def fake_maps(monkeypatch, crack_high, crack_low, background):
    """Every scale sees the same maps: on each photo's crack, ``crack_high``
    on even columns and ``crack_low`` on odd ones; ``background`` off it."""
    def maps(model, images, scale, **kwargs):
        out = []
        for label in maps.labels:
            prob = np.full(label.shape, background, np.float32)
            columns = np.arange(label.shape[1]) % 2 == 0
            prob[(label == 1) & columns] = crack_high
            prob[(label == 1) & ~columns] = crack_low
            out.append(prob)
        return out
    monkeypatch.setattr(site_calibration, 'site_probabilities', maps)
    return maps


def test_a_gain_below_the_margin_keeps_the_stored_calibration(
        student, site, monkeypatch):
    photos = load_site_photos(*site)
    maps = fake_maps(monkeypatch, 0.6, 0.4, 0.1)
    maps.labels = [p.label for p in photos]
    # Stored 0.5 at scale 1 finds the 0.6 half of the crack: precision 1,
    # recall ~1/2, F ~66.7; a threshold in [0.1, 0.4) finds it all: F 100.
    # The gain, ~33.3 F points, clears a margin of 20, not one of 40.
    model = init_crack_model(STUDENT, student)
    kept = choose_calibration(model, photos, (1.0, 2.0), min_gain=40)
    assert kept['kept_stored'] and kept['stored']['f'] == pytest.approx(
        66.7, abs=2)
    assert kept['chosen']['f'] == 100
    assert (kept['threshold'], kept['scale']) == (0.5, 1.0)
    assert apply_calibration(model) == dict(threshold=0.5, scale=1.0)
    replaced = choose_calibration(model, photos, (1.0, 2.0), min_gain=20)
    assert not replaced['kept_stored'] and replaced['f'] == 100
    assert 0.1 <= replaced['threshold'] < 0.4
    assert apply_calibration(model)['threshold'] == replaced['threshold']


def test_no_margin_takes_the_choice_even_below_the_stored_one(
        student, site, monkeypatch):
    photos = load_site_photos(*site)
    maps = fake_maps(monkeypatch, 0.503, 0.503, 0.501)
    maps.labels = [p.label for p in photos]
    model = init_crack_model(STUDENT, student)
    # 0.502, between the grid's 0.50 and 0.51, separates the crack exactly:
    # the stored F (100) beats every threshold of the grid.
    apply_calibration(model, threshold=0.502)
    result = choose_calibration(model, photos, (1.0, ), min_gain=0)
    assert result['stored']['f'] == 100 and result['chosen']['f'] < 100
    best = max(result['table'], key=lambda row: row['f'])
    assert not result['kept_stored']
    assert result['threshold'] == best['threshold'] <= 0.5
    apply_calibration(model, threshold=0.502)
    assert choose_calibration(model, photos, (1.0, ),
                              min_gain=0.01)['threshold'] == 0.502


def test_the_threshold_grid_is_a_parameter(student, site, monkeypatch):
    photos = load_site_photos(*site)
    maps = fake_maps(monkeypatch, 0.508, 0.508, 0.501)
    maps.labels = [p.label for p in photos]
    model = init_crack_model(STUDENT, student)
    # 99 thresholds step by 0.01: none lies between 0.501 and 0.508; 199
    # step by 0.005 and 0.505 separates the crack exactly.
    coarse = choose_calibration(model, photos, (1.0, ))
    fine = choose_calibration(model, photos, (1.0, ), num_thresholds=199)
    assert coarse['f'] < 100
    assert fine['f'] == 100 and fine['threshold'] == 0.505


def test_a_margin_out_of_range_is_refused(student, site):
    model = init_crack_model(STUDENT, student)
    with pytest.raises(ValueError, match=r'min_gain: expected F points'):
        choose_calibration(model, load_site_photos(*site), (1.0, ),
                           min_gain=-1)


def test_adapt_keeps_the_checkpoint_calibration_and_records_both(
        student, site, monkeypatch, tmp_path):
    maps = fake_maps(monkeypatch, 0.6, 0.4, 0.1)
    maps.labels = [p.label for p in load_site_photos(*site, k=2, seed=3)]
    out = str(tmp_path / 'adapted.pth')
    record = adapt_to_site(STUDENT, student, out, *site, k=2, seed=3,
                           scales=(1.0, ), min_gain=40)
    step = record['steps'][0]
    assert step['kept_stored'] and step['min_gain'] == 40
    assert step['chosen']['f'] - step['stored']['f'] < 40
    assert read_calibration(out) == dict(threshold=0.5, scale=1.0)


def test_cli_passes_the_margin(student, site, tmp_path):
    out = str(tmp_path / 'a.pth')
    run = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'adapt.py'), STUDENT,
         student, '--images', site[0], '--masks', site[1], '--scales', '1',
         '--min-gain', '100', '--scale-min-gain', '3', '--out', out],
        capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout[run.stdout.index('{'):
                                   run.stdout.rindex('}') + 1])
    assert record['steps'][0]['kept_stored']
    assert record['steps'][0]['scale_min_gain'] == 3
    assert read_calibration(out) == dict(threshold=0.5, scale=1.0)


def test_default_rule_per_number_of_photos(monkeypatch):
    rules = {2: calibration_default.CalibrationRule(5.0, math.inf, 19),
             6: calibration_default.CalibrationRule(0.0, 0.0, 99)}
    monkeypatch.setattr(calibration_default, 'DEFAULT_RULES', rules)
    assert calibration_default.default_rule(1) == calibration_default.AS_IS
    assert calibration_default.default_rule(2) == rules[2]
    assert calibration_default.default_rule(5) == rules[2]
    assert calibration_default.default_rule(60) == rules[6]


@pytest.mark.parametrize('rule', [
    calibration_default.CalibrationRule(math.inf, 0.0, 99),
    calibration_default.CalibrationRule(0.0, math.inf, 19),
    calibration_default.CalibrationRule(20.0, 0.0, 19),
    calibration_default.CalibrationRule(0.0, 5.0, 99)])
def test_adapt_applies_the_default_rule_for_its_photos(
        student, site, monkeypatch, tmp_path, rule):
    """What is not given follows the rule for k photos: the scales tried,
    the margin and the threshold grid."""
    maps = fake_maps(monkeypatch, 0.6, 0.4, 0.1)
    maps.labels = [p.label for p in load_site_photos(*site, k=2, seed=3)]
    monkeypatch.setattr(calibration_default, 'DEFAULT_RULES', {2: rule})
    out = str(tmp_path / 'adapted.pth')
    step = adapt_to_site(STUDENT, student, out, *site, k=2,
                         seed=3)['steps'][0]
    assert sorted(row['scale'] for row in step['table']) == (
        sorted(SCALE_GRID) if rule.scale_min_gain < math.inf else [1.0])
    assert step['num_thresholds'] == rule.num_thresholds
    assert step['min_gain'] == (None if rule.min_gain == math.inf
                                else rule.min_gain)
    assert step['scale_min_gain'] == (
        None if rule.scale_min_gain == math.inf else rule.scale_min_gain)
    # The photos gain ~33 F points: only the never-changing rule keeps
    # the stored 0.5; the threshold lies on the rule's grid.
    assert step['kept_stored'] is (rule.min_gain == math.inf)
    if not step['kept_stored']:
        assert round(step['threshold'] * (rule.num_thresholds + 1),
                     6) % 1 == 0
        assert read_calibration(out)['threshold'] == step['threshold']
    # A margin given wins over the rule's; scales given take the best
    # pair among them unless a scale margin is given too.
    given = adapt_to_site(STUDENT, student, str(tmp_path / 'b.pth'), *site,
                          k=2, seed=3, min_gain=0.0, scales=(1.0, 2.0))
    assert not given['steps'][0]['kept_stored']
    assert given['steps'][0]['scale_min_gain'] == 0.0
    given = adapt_to_site(STUDENT, student, str(tmp_path / 'c.pth'), *site,
                          k=2, seed=3, scales=(1.0, 2.0), scale_min_gain=7)
    assert given['steps'][0]['scale_min_gain'] == 7


def scale_dependent_maps(monkeypatch, labels):
    """At scale 2 the whole crack reads 0.6; at other scales its odd
    columns read 0.05, below the background's 0.1, so no threshold finds
    them: the best threshold alone has F ~66.7, scale 2 F 100."""
    def maps(model, images, scale, **kwargs):
        out = []
        for label in labels:
            prob = np.full(label.shape, 0.1, np.float32)
            odd = np.arange(label.shape[1]) % 2 == 1
            prob[label == 1] = 0.6
            if scale != 2.0:
                prob[(label == 1) & odd] = 0.05
            out.append(prob)
        return out
    monkeypatch.setattr(site_calibration, 'site_probabilities', maps)


def test_a_new_scale_must_beat_the_threshold_alone_by_its_margin(
        student, site, monkeypatch):
    photos = load_site_photos(*site)
    scale_dependent_maps(monkeypatch, [p.label for p in photos])
    model = init_crack_model(STUDENT, student)
    kept = choose_calibration(model, photos, (1.0, 2.0), scale_min_gain=40)
    assert kept['kept_scale'] and not kept['kept_stored']
    assert (kept['best']['scale'], kept['best']['f']) == (2.0, 100)
    assert kept['at_stored_scale']['f'] == pytest.approx(66.7, abs=2)
    assert kept['chosen'] == kept['at_stored_scale']
    assert apply_calibration(model)['scale'] == 1.0
    # The stored scale is the fallback even when it is not among those
    # tried.
    assert choose_calibration(model, photos, (2.0, ),
                              scale_min_gain=40)['scale'] == 1.0
    taken = choose_calibration(model, photos, (1.0, 2.0), scale_min_gain=20)
    assert not taken['kept_scale'] and taken['scale'] == 2.0
    assert apply_calibration(model)['scale'] == 2.0
    with pytest.raises(ValueError, match=r'scale_min_gain: expected F'):
        choose_calibration(model, photos, (1.0, ), scale_min_gain=-1)


def test_cli_says_why_it_kept_the_checkpoint_scale():
    adapt = script_module('tools/adapt.py')
    step = dict(step='calibration', kept_scale=True, kept_stored=False,
                best=dict(scale=2.0, f=70.0), scale_min_gain=5.0,
                at_stored_scale=dict(scale=1.0, f=67.5))
    assert adapt.kept_line(dict(labelled=['a'] * 5, steps=[step])) == [
        "kept the checkpoint's scale: scale 2 gained +2.5 F points over "
        'the best threshold alone, the rule for 5 photos needs 5 '
        '(--scale-min-gain)']
    assert adapt.kept_line(dict(labelled=['a'], steps=[dict(
        step, kept_scale=False)])) == []


def test_cli_says_why_it_kept_the_checkpoint_calibration(
        student, site, tmp_path):
    out = str(tmp_path / 'a.pth')
    run = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'adapt.py'), STUDENT,
         student, '--images', site[0], '--masks', site[1], '--k', '3',
         '--scales', '1', '--min-gain', 'inf', '--out', out],
        capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert "kept the checkpoint's calibration: the photos' F gained" in \
        run.stdout
    assert 'the rule for 3 photos never changes it (--min-gain)' in \
        run.stdout
    assert read_calibration(out) == dict(threshold=0.5, scale=1.0)
