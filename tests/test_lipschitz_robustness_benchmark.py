"""benchmarks/lipschitz_robustness_cpu.py: its pairing and statistics."""
import random

import pytest
from mmengine.config import Config

from script_modules import harness, script_module


@pytest.fixture(scope='module')
def bench():
    return script_module('benchmarks/lipschitz_robustness_cpu.py')


@pytest.fixture(scope='module')
def stats():
    return harness('stats')


def _flat(cfg, prefix=''):
    if isinstance(cfg, dict):
        out = {}
        for key, value in cfg.items():
            out.update(_flat(value, f'{prefix}.{key}'))
        return out
    return {prefix: cfg}


def test_the_two_models_differ_only_in_the_head(bench):
    plain, lipschitz = (_flat(Config.fromfile(bench.MODELS[name][0])
                              .to_dict())
                        for name in ('student_plain', 'student_lipschitz'))
    differ = {key for key in set(plain) | set(lipschitz)
              if plain.get(key) != lipschitz.get(key)}
    assert differ == {'.model.decode_head.spectral_norm',
                      '.model.decode_head.gp_weight'}


def test_lipschitz_partner_trains_as_the_plain_source_was_trained(bench):
    site = script_module('benchmarks/site_adaptation_cpu.py')
    args = type('Args', (), dict(
        data_root=harness('records').default_data_root()))
    ours = bench.train_command(args)
    source = site.train_command('student_plain', args.data_root)
    options = ours[ours.index('--cfg-options') + 1:]
    source_options = source[source.index('--cfg-options') + 1:]
    strip = (lambda opts: sorted(o.split('=')[0] if 'data_root' in o else o
                                 for o in opts))
    assert strip(options) == strip(source_options)
    assert ours[2] == bench.MODELS['student_lipschitz'][0]
    assert source[2] == bench.MODELS['student_plain'][0]


def test_attacks_differ_only_in_the_model(bench):
    args = type('Args', (), dict(
        data_root=harness('records').default_data_root()))
    plain, lipschitz = (bench.attack_command(name, args)
                        for name in ('student_plain', 'student_lipschitz'))
    changed = [i for i, (a, b) in enumerate(zip(plain, lipschitz)) if a != b]
    assert [plain[i] for i in changed] == [
        *bench.MODELS['student_plain'],
        f'{bench.WORK_DIR}/student_plain/robustness.json']


def _counts(rng, n, runs, hit):
    return {run: [dict(image=f'{i}.jpg', tp=hit(rng, run), fp=rng.randint(
        10, 40), fn=rng.randint(10, 40)) for i in range(n)]
        for run in runs}


def test_a_real_difference_is_found_and_a_null_one_is_not(bench):
    rng = random.Random(0)
    runs = ('clean', 'pgd_eps4')
    plain = _counts(rng, 30, runs,
                    lambda r, run: r.randint(40, 60) // (
                        2 if run == 'pgd_eps4' else 1))
    # Same clean images, and an attack that costs it nothing.
    lipschitz = {'clean': plain['clean'],
                 'pgd_eps4': [dict(c, tp=c['tp'] * 2)
                              for c in plain['pgd_eps4']]}
    rows = bench.contrasts(plain, lipschitz, resamples=2000)
    clean, attacked = rows['clean'], rows['pgd_eps4']
    assert clean['difference']['mean'] == 0 and clean['difference']['p'] == 1
    assert clean['drop_difference'] is None
    assert attacked['lipschitz'] > attacked['plain']
    diff = attacked['difference']
    assert 0 < diff['low'] < diff['mean'] < diff['high']
    assert diff['p'] < 0.01
    assert attacked['drop_difference']['mean'] == pytest.approx(
        diff['mean'])


def test_models_scored_on_other_images_are_refused(bench):
    rng = random.Random(1)
    plain = _counts(rng, 5, ('clean', ), lambda r, run: 5)
    other = {'clean': [dict(c, image='x' + c['image'])
                       for c in plain['clean']]}
    with pytest.raises(ValueError, match='same images'):
        bench.contrasts(plain, other)


def test_paired_bootstrap_covers_a_known_mean(stats):
    rng = random.Random(2)
    diffs = [rng.gauss(1.0, 1.0) for _ in range(200)]
    found = stats.paired_bootstrap(
        lambda idx: sum(diffs[i] for i in idx) / len(idx), len(diffs), 2000)
    assert found['low'] < 1.0 < found['high'] and found['p'] < 0.001
    null = [rng.gauss(0.0, 1.0) for _ in range(200)]
    nothing = stats.paired_bootstrap(
        lambda idx: sum(null[i] for i in idx) / len(idx), len(null), 2000)
    assert nothing['low'] < 0 < nothing['high'] and nothing['p'] > 0.05


def test_a_p_value_below_the_bootstraps_resolution_is_not_printed_as_0(
        bench):
    line = bench._interval(dict(mean=2.0, low=1.0, high=3.0, p=0.0))
    assert line.endswith(f'p < {2 / bench.RESAMPLES:g}')
    assert bench._interval(dict(mean=0.1, low=-1.0, high=1.0,
                                p=0.5)).endswith('p = 0.5')
