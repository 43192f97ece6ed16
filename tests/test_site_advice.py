"""The leave-one-site-out default per k on toy records: margin rules
scored from the k photos' F, the held-out gains, the worst site."""
import pytest

from script_modules import harness

advice = harness('site_advice')


def toy_results(sites):
    """``sites``: {site: (as-is IoU, calibrated IoU, photos' F gain)}, the
    same at every draw of k = 1."""
    results = {}
    for site, (none, calibrated, gain) in sites.items():
        for d in range(3):
            results[f'src/{site}/none/k0/d{d}'] = dict(iou=none)
            for arm in ('threshold', 'threshold_scale'):
                record = dict(iou=calibrated, photos_f_stored=40.0,
                              photos_f_chosen=40.0 + gain, seconds=2.0)
                record['grid19'] = dict(record)
                results[f'src/{site}/{arm}/k1/d{d}'] = record
    return results


def test_a_margin_rule_keeps_the_stored_calibration_below_it():
    rule = advice.Rule('threshold_scale', 5)
    record = dict(iou=30.0, photos_f_stored=50.0, photos_f_chosen=54.0)
    assert advice.draw_value(rule, record, dict(iou=35.0)) == 35.0
    record['photos_f_chosen'] = 55.0
    assert advice.draw_value(rule, record, dict(iou=35.0)) == 30.0
    assert advice.draw_value(advice.Rule('finetune'), record,
                             dict(iou=35.0)) == 30.0
    coarse = advice.Rule('threshold', 0, 19)
    record['grid19'] = dict(iou=20.0, photos_f_chosen=49.0)
    assert advice.draw_value(coarse, record, dict(iou=35.0)) == 35.0
    assert coarse.name == 'threshold, margin 0, grid 0.05'


def test_a_scale_margin_falls_back_to_the_threshold_alone():
    rule = advice.Rule('threshold_scale', 0, 99, 5)
    both = dict(iou=30.0, photos_f_stored=50.0, photos_f_chosen=60.0)
    alone = dict(iou=20.0, photos_f_stored=50.0, photos_f_chosen=56.0)
    # The scale adds 4 F points to the threshold alone: under 5.
    assert advice.draw_value(rule, both, dict(iou=10.0), alone) == 20.0
    alone['photos_f_chosen'] = 55.0
    assert advice.draw_value(rule, both, dict(iou=10.0), alone) == 30.0
    # The fallback must still clear the margin over the stored one.
    alone['photos_f_chosen'] = 56.0
    assert advice.draw_value(rule._replace(margin=8), both, dict(iou=10.0),
                             alone) == 10.0
    assert rule.name == 'threshold and scale (scale margin 5), margin 0'


@pytest.mark.parametrize('rule', [
    advice.Rule('threshold', 20, 19), advice.Rule('threshold_scale', 0),
    advice.Rule('threshold_scale', 2, 99, 10)])
def test_a_rule_reads_the_same_in_the_package(rule):
    package = advice.package_rule(rule)
    assert package.min_gain == rule.margin
    assert package.num_thresholds == rule.grid
    assert advice.study_rule(package) == rule
    assert advice.package_rule(None).min_gain == float('inf')
    assert advice.package_rule(advice.Rule('finetune')) is None


def test_loso_picks_the_margin_that_spares_the_right_site():
    # Calibration gains a lot where the photos' F gain is large; it costs
    # where the gain is small (the default was already right).
    sites = {'A': (30.0, 20.0, 3.0), 'B': (10.0, 30.0, 25.0),
             'C': (15.0, 35.0, 30.0), 'D': (20.0, 32.0, 12.0)}
    per_k = advice.advice(toy_results(sites), ['src'], sorted(sites), ks=(1,))
    found = per_k[1]
    # On all sites margin 10 skips A (gain 3) and keeps B, C, D: never
    # worse, best mean (margin 5 ties and comes later).
    assert found['default']['rule'] == 'threshold, margin 10'
    folds = {f['site']: f for f in found['folds']}
    assert folds['A']['gain'] == 0.0
    assert folds['B']['gain'] == pytest.approx(20.0)
    # Chosen without D, margin 20 does as well on A, B, C and skips D.
    assert folds['D']['rule'] == 'threshold, margin 20'
    assert folds['D']['gain'] == 0.0
    assert found['worst']['gain'] == 0.0
    assert found['expected']['mean'] == pytest.approx((0 + 20 + 20 + 0) / 4)
    assert found['expected']['pi_low'] < found['expected']['mean']
    assert found['seconds'] == 2.0
    table = advice.advice_lines(per_k)
    assert table[2].startswith('| 1 | threshold, margin 10 | +10.0 [')
    assert '| A +0.0 |' in table[2]


def test_sites_without_margin_fields_or_arms_are_left_out():
    sites = {'A': (30.0, 20.0, 3.0), 'B': (10.0, 30.0, 25.0),
             'C': (15.0, 35.0, 30.0)}
    results = toy_results(sites)
    for d in range(3):
        del results[f'src/C/threshold/k1/d{d}']['photos_f_stored']
    found = advice.site_scores(results, 'src', 1, sorted(sites),
                               advice.candidate_rules())
    assert found['sites'] == ['A', 'B']
    # Fewer than three sites: no advice.
    assert advice.advice(results, ['src'], sorted(sites), ks=(1,)) == {}


def test_fine_tuning_joins_the_candidates_only_without_losing_sites():
    sites = {'A': (30.0, 20.0, 3.0), 'B': (10.0, 30.0, 25.0),
             'C': (15.0, 35.0, 30.0), 'D': (20.0, 32.0, 12.0)}
    results = toy_results(sites)
    for site in 'ABC':
        for d in range(3):
            results[f'src/{site}/finetune/k1/d{d}'] = dict(iou=50.0,
                                                          seconds=80.0)
    found = advice.advice(results, ['src'], sorted(sites), ks=(1,))[1]
    assert found['sites'] == ['A', 'B', 'C', 'D']
    assert 'calibrate and fine-tune' not in found['candidates']
    for d in range(3):
        results[f'src/D/finetune/k1/d{d}'] = dict(iou=50.0, seconds=80.0)
    found = advice.advice(results, ['src'], sorted(sites), ks=(1,))[1]
    assert found['default']['rule'] == 'calibrate and fine-tune'
    assert found['seconds'] == 80.0


def test_fine_tuning_advice_reads_only_the_sites_it_was_measured_on():
    # Fine-tuning is measured at A, B, C (IoU 50 everywhere, beating every
    # calibration rule) for source x, not at D; source y has no fine-tuning.
    sites = {'A': (30.0, 20.0, 3.0), 'B': (10.0, 30.0, 25.0),
             'C': (15.0, 35.0, 30.0), 'D': (20.0, 32.0, 12.0)}
    results = {key.replace('src/', f'{source}/', 1): value
               for source in ('x', 'y')
               for key, value in toy_results(sites).items()}
    for site in 'ABC':
        for d in range(3):
            results[f'x/{site}/finetune/k1/d{d}'] = dict(iou=50.0,
                                                        seconds=80.0)
    found = advice.finetune_advice(results, ['x', 'y'], sorted(sites),
                                   ks=(1, 3))
    assert list(found) == [1]  # nothing measured at k = 3
    assert found[1]['cases'] == ['x@A', 'x@B', 'x@C']
    assert found[1]['default_rule'] == advice.Rule('finetune')
    # A loss at one site for one source keeps fine-tuning out.
    for d in range(3):  # B as is: 10
        results[f'x/B/finetune/k1/d{d}'] = dict(iou=9.0, seconds=80.0)
    found = advice.finetune_advice(results, ['x'], sorted(sites), ks=(1, ))
    assert found[1]['default_rule'] != advice.Rule('finetune')
