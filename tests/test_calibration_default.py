"""The calibration ``tools/adapt.py`` applies by default, whether it
fine-tunes by default, and the fewest photos it fine-tunes on without a
warning, are what the committed site-adaptation record chooses
leave-one-site-out, for every k it measured: a new result that changes
the choice fails here until the default follows it."""
from crackdino_mm.apis.adapt import (FINETUNE_ITERS, MIN_FINETUNE_PHOTOS,
                                     default_finetune_iters)
from crackdino_mm.apis.calibration_default import (DEFAULT_RULES,
                                                   CalibrationRule)
from script_modules import harness, script_module

study = script_module('benchmarks/site_adaptation_cpu.py')
advice = harness('site_advice')
records = harness('records')
arms = harness('site_arms')


def test_the_tool_default_is_the_rule_the_record_chooses():
    per_k = advice.advice(records.load(study.RESULTS), list(study.SOURCES),
                          study.SITES)
    # Where fine-tuning was chosen, the tool calibrates as the measured
    # fine-tuning arm did, then fine-tunes as many steps.
    tuned = CalibrationRule(arms.FINETUNE_CALIBRATION['min_gain'],
                            arms.FINETUNE_CALIBRATION['scale_min_gain'], 99)
    chosen = {k: (tuned, arms.FINETUNE_ITERS)
              if found['default_rule'] == advice.Rule('finetune') else
              (advice.package_rule(found['default_rule']), 0)
              for k, found in per_k.items() if k}
    assert chosen == {k: (rule, default_finetune_iters(k))
                      for k, rule in DEFAULT_RULES.items()}
    assert FINETUNE_ITERS == arms.FINETUNE_ITERS
    # Chosen on all sites, the default is safe at every one of them.
    for k in DEFAULT_RULES:
        assert per_k[k]['default']['worst_gain'] >= -advice.TOLERANCE


def test_fine_tuning_warns_below_the_photos_it_was_chosen_from():
    per_k = advice.finetune_advice(records.load(study.RESULTS),
                                   list(study.SOURCES), study.SITES)
    chosen = sorted(k for k, found in per_k.items()
                    if found['default_rule'] == advice.Rule('finetune'))
    assert chosen and chosen[0] == MIN_FINETUNE_PHOTOS
    # Below it, a calibration rule (or as is) was chosen.
    assert all(k in chosen for k in per_k if k >= MIN_FINETUNE_PHOTOS)
