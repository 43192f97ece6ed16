"""benchmarks/crack_transfer_cpu.py: entries, order, commands, data checks."""
import math
import os.path as osp

import pytest
from mmengine.config import Config

from script_modules import harness, script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def bench():
    return script_module('benchmarks/crack_transfer_cpu.py')


def test_every_entry_runs_after_what_it_needs(bench):
    names = list(bench.entries())
    assert len(names) == 3 + 3 * len(bench.SEEDED) + 5 + 1 + \
        3 * len(bench.SCRATCH)
    # The fallback pair runs after the mechanism test's.
    assert names.index('scratch_distill_s2') < names.index('unlab_student_s0')
    for position, (arm, _) in enumerate(bench.entries().values()):
        assert osp.isfile(osp.join(REPO, bench.ARMS[arm][0]))
        for need in bench.ARMS[arm][3]:
            assert names.index(need) < position


def test_diagnostic_is_distill_plain_with_ten_times_the_weight(bench):
    def model(arm):
        return Config.fromfile(osp.join(REPO, bench.ARMS[arm][0])).model

    plain, strong = model('distill_plain'), model('distill_plain_x10')
    assert strong.distill_loss.loss_weight == pytest.approx(
        10 * plain.distill_loss.loss_weight)
    strong.distill_loss.loss_weight = plain.distill_loss.loss_weight
    assert strong == plain


def test_learned_projection_diagnostic_changes_only_the_large_branch(bench):
    def model(arm):
        return Config.fromfile(osp.join(REPO, bench.ARMS[arm][0])).model

    full, learned = model('crackdino'), model('crackdino_learnedproj')
    # Branch 0 is the first teacher, the large one (24 blocks).
    assert list(learned.teachers)[0] == 'teacher_large'
    assert learned.teachers.teacher_large.backbone.arch.num_layers == 24
    assert learned.neck.pop('learned_branches') == (0, )
    assert learned == full


def _flat(cfg, prefix=''):
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(_flat(value, f'{prefix}{key}.'))
        else:
            out[prefix + key] = value
    return out


def _differences(a, b):
    a, b = _flat(a), _flat(b)
    return {k for k in set(a) | set(b) if a.get(k, '-') != b.get(k, '-')}


def _student(cfg):
    from crackdino_mm.models.segmentors.dual_teacher_distiller import \
        DualTeacherDistiller
    if cfg.model.type != 'DualTeacherDistiller':
        return cfg.model.to_dict()
    return DualTeacherDistiller.student_config(cfg.model.to_dict())


@pytest.mark.parametrize('arm', [
    'distill_plain', 'crackdino', 'student_lipschitz', 'crackdino_cosine',
    'crackdino_mse', 'crackdino_rawkl', 'distill_plain_x10',
    'crackdino_learnedproj', 'scratch_distill', 'unlab_distill'])
def test_every_arm_differs_from_its_partner_only_as_declared(bench, arm):
    partner, declared = bench.PARTNERS[arm]
    a, b = (Config.fromfile(osp.join(REPO, bench.ARMS[x][0]))
            for x in (arm, partner))
    # Everything outside the model (data, schedule, runtime) is the same.
    assert _differences({k: v for k, v in a.to_dict().items()
                         if k != 'model'},
                        {k: v for k, v in b.to_dict().items()
                         if k != 'model'}) == set()
    found = _differences(_student(a), _student(b)) | {
        k for k in bench.DISTILLER_KEYS
        if a.model.get(k, '-') != b.model.get(k, '-')}
    assert found == set(declared)
    # And the command lines differ only in the config and the weights
    # the arm starts from.
    args = bench.parse_args(['train'])
    names = {a_: n for n, (a_, s) in bench.entries().items() if s == 0}
    ca, cb = (bench.train_command(names[x], args) for x in (arm, partner))
    extra = {o.split('=')[0] for o in set(ca) ^ set(cb) if '=' in o}
    assert extra <= {'model.backbone.init_cfg.checkpoint'} | {
        f'model.teachers.{name}.backbone.init_cfg.checkpoint'
        for name in ('teacher_large', 'teacher_base')}


def test_scratch_arms_start_from_random_weights(bench):
    args = bench.parse_args(['train'])
    for arm in bench.SCRATCH:
        cfg = Config.fromfile(osp.join(REPO, bench.ARMS[arm][0]))
        assert cfg.model.backbone.init_cfg is None
        command = bench.train_command(f'{arm}_s1', args)
        assert 'randomness.seed=1' in command
        assert not any(o.startswith('model.backbone.init_cfg')
                       for o in command)
    distill = Config.fromfile(osp.join(REPO,
                                       bench.ARMS['scratch_distill'][0]))
    # A learned projection to the large teacher, seg losses at weight 1.
    assert distill.model.neck.learned_branches == (0, )
    assert distill.model.seg_weight == 1.0
    assert distill.model.teachers.teacher_large.backbone.arch.num_layers \
        == 24


def test_probe_floor_is_a_random_backbone_probed_with_two_seeds(
        bench, monkeypatch):
    monkeypatch.setattr(bench, 'check_data', lambda args: None)
    args = bench.parse_args(['probe'])
    assert bench.probe_seeds('random_backbone') == (0, 1)
    command = bench.probe_command('random_backbone', args, seed=1)
    assert 'model.backbone.init_cfg=None' in command
    assert 'randomness.seed=1' in command
    assert command[command.index('--work-dir') + 1].endswith('probe_s1')
    assert bench.probe_seeds('scratch_distill_s2') == (0, 1)
    assert bench.probe_seeds('crackdino_s0') == (0, )
    with pytest.raises(SystemExit, match='trained entries'):
        bench.cmd_train(bench.parse_args(['train', '--only',
                                          'random_backbone']))


def test_unlabelled_arms_mix_crack_set_images_without_their_masks(bench):
    args = bench.parse_args(['train', '--crack-sets-root', 'sets'])
    for arm in ('unlab_student', 'unlab_distill'):
        cfg = Config.fromfile(osp.join(REPO, bench.ARMS[arm][0]))
        labelled, unlabelled = cfg.train_dataloader.dataset.datasets
        assert labelled.dataset.type == 'DeepCrackDataset'
        assert labelled.times * 270 == pytest.approx(6770, rel=0.01)
        for folder in unlabelled.datasets:
            assert folder.data_prefix.seg_map_path is None
            assert dict(type='LoadCrackAnnotations',
                        unlabelled_as_ignored=True) in folder.pipeline
        command = bench.train_command(f'{arm}_s0', args)
        assert ('train_dataloader.dataset.datasets.1.datasets.3.data_root='
                'sets/AigleRN-TRIMM') in command
        assert any(o.startswith('train_dataloader.dataset.datasets.0.'
                                'dataset.data_root=') for o in command)


def test_unlabelled_as_ignored_makes_segmentation_losses_skip_an_image():
    import numpy as np
    import torch
    from mmseg.registry import MODELS, TRANSFORMS
    import crackdino_mm  # noqa: F401
    transform = TRANSFORMS.build(dict(type='LoadCrackAnnotations',
                                      unlabelled_as_ignored=True))
    out = transform(dict(img=np.zeros((5, 7, 3), np.uint8), seg_fields=[]))
    assert out['gt_seg_map'].shape == (5, 7)
    assert (out['gt_seg_map'] == 255).all()
    assert out['seg_fields'] == ['gt_seg_map']
    plain = TRANSFORMS.build(dict(type='LoadCrackAnnotations'))
    assert 'gt_seg_map' not in plain(
        dict(img=np.zeros((5, 7, 3), np.uint8), seg_fields=[]))
    # A batch with an all-ignored image: the losses equal those of the
    # labelled image alone, whatever is predicted on the ignored one.
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(2, 1, 5, 7, generator=g)
    target = torch.stack([torch.from_numpy(out['gt_seg_map']).long(),
                          (torch.rand(5, 7, generator=g) > 0.7).long()])
    for cfg in (dict(type='CrossEntropyLoss', use_sigmoid=True,
                     avg_non_ignore=True), dict(type='BinaryDiceLoss')):
        loss = MODELS.build(cfg)
        both = loss(pred, target, ignore_index=255)
        alone = loss(pred[1:], target[1:], ignore_index=255)
        torch.testing.assert_close(both, alone)


def test_crack_set_training_never_sees_deepcrack(bench):
    args = bench.parse_args(['train'])
    for arm, (config, _, data, _) in bench.ARMS.items():
        if data != 'crack_sets':
            continue
        cfg = Config.fromfile(osp.join(REPO, config))
        roots = [d.data_root for d in cfg.train_dataloader.dataset.datasets]
        assert [osp.basename(r) for r in roots] == list(bench.CRACK_SETS)
        command = bench.train_command(arm, args)
        train_options = [o for o in command if o.startswith('train_')]
        assert train_options == [
            f'train_dataloader.dataset.datasets.{i}.data_root='
            f'data/crack_sets/{name}'
            for i, name in enumerate(bench.CRACK_SETS)]


def test_evaluation_changes_only_the_data_root(bench):
    args = bench.parse_args(['train', '--work-dir', 'wd'])
    command = bench.test_command('crackdino_s1', 'GAPs384', args)
    options = command[command.index('--cfg-options') + 1:]
    assert options == [
        'test_dataloader.dataset.data_root=data/crack_sets/GAPs384']
    assert command[3] == 'wd/crackdino_s1/iter_1000.pth'
    train = bench.train_command('segformer_ft_s2', args)
    assert 'randomness.seed=2' in train
    assert 'model.backbone.init_cfg.checkpoint=benchmarks/results/' \
        'crack_transfer_weights/segformer_pre.pth' in train
    distill = bench.train_command('crackdino_s0', args)
    assert [o for o in distill if 'init_cfg' in o] == [
        f'{key}.init_cfg.checkpoint={bench.source_weights(source)}'
        for key, source in (('model.backbone', 'teacher_base'),
                            ('model.teachers.teacher_large.backbone',
                             'teacher_large'),
                            ('model.teachers.teacher_base.backbone',
                             'teacher_base'))]


def test_probe_freezes_the_entrys_backbone_and_trains_on_crack_sets(bench):
    args = bench.parse_args(['probe', '--work-dir', 'wd'])
    probe = Config.fromfile(osp.join(REPO, bench.PROBE_CONFIG))
    student = Config.fromfile(osp.join(REPO, bench.ARMS['crackdino'][0]))
    assert probe.model.backbone.frozen
    assert probe.model.backbone.arch == student.model.backbone.arch
    assert probe.train_cfg.max_iters == bench.PROBE_ITERS
    sources = {}
    for name in ('teacher_base', 'crackdino_s2'):
        command = bench.probe_command(name, args)
        options = command[command.index('--cfg-options') + 1:]
        sources[name] = [o.split('=', 1)[1] for o in options
                         if o.startswith('model.backbone.init_cfg')]
        assert [o for o in options if o.startswith('train_')] == [
            f'train_dataloader.dataset.datasets.{i}.data_root='
            f'data/crack_sets/{s}' for i, s in enumerate(bench.CRACK_SETS)]
    assert sources == {
        'teacher_base': [bench.source_weights('teacher_base')],
        'crackdino_s2': ['wd/crackdino_s2/iter_1000.pth']}
    test = bench.probe_test_command('crackdino_s2', 'GAPs384', args)
    assert test[3] == f'wd/crackdino_s2/probe/iter_{bench.PROBE_ITERS}.pth'
    assert test[test.index('--cfg-options') + 1:] == [
        'test_dataloader.dataset.data_root=data/crack_sets/GAPs384']
    assert not bench.probed('segformer_ft_s0')


def test_probe_of_a_lost_checkpoint_says_to_retrain(bench, tmp_path,
                                                    monkeypatch):
    for s in ('DeepCrack', ) + tuple(f'sets/{s}' for s in bench.CRACK_SETS):
        (tmp_path / s / 'train_img').mkdir(parents=True)
    results = tmp_path / 'results.json'
    harness('records').save(str(results), {'student_plain_s1': dict(train={})})
    monkeypatch.setattr(bench, 'RESULTS', str(results))
    args = bench.parse_args([
        'probe', '--only', 'student_plain_s1', '--data-root',
        str(tmp_path / 'DeepCrack'),
        '--crack-sets-root', str(tmp_path / 'sets'), '--work-dir',
        str(tmp_path / 'wd')])
    with pytest.raises(SystemExit, match='train --only student_plain_s1 '
                       '--force'):
        bench.cmd_probe(args)


def test_probe_evaluates_only_the_sets_not_recorded(bench, tmp_path,
                                                   monkeypatch):
    for s in ('DeepCrack', ) + tuple(f'sets/{s}' for s in bench.CRACK_SETS):
        (tmp_path / s / 'train_img').mkdir(parents=True)
    results = tmp_path / 'results.json'
    harness('records').save(str(results), {'teacher_base': dict(
        train={}, probe={}, probe_test={'Crack500': dict(metrics={})})})
    monkeypatch.setattr(bench, 'RESULTS', str(results))
    commands = []
    monkeypatch.setattr(harness('commands'), 'run_tool',
                        lambda name, cmd: commands.append(cmd) or {})
    monkeypatch.setattr(harness('commands'), 'read_test_metrics', lambda d: dict(
        crack_iou=float(len(d)), crack_f1=0.0, ods=0.0, dir=d))
    bench.cmd_probe(bench.parse_args([
        'probe', '--only', 'teacher_base', '--data-root',
        str(tmp_path / 'DeepCrack'), '--crack-sets-root',
        str(tmp_path / 'sets'), '--work-dir', 'wd']))
    # Seed 0: the three sets not recorded; seed 1 (the probe's ceiling
    # has two seeds): its probe, then all four sets.
    assert [c[1] for c in commands] == ['tools/test.py'] * 3 + [
        'tools/train.py'] + ['tools/test.py'] * 4
    assert 'randomness.seed=1' in commands[3]
    recorded = harness('records').load(str(results))['teacher_base']
    assert list(recorded['probe_test']) == list(bench.CRACK_SETS)
    assert list(recorded['probe_test_s1']) == list(bench.CRACK_SETS)
    assert recorded['probe_test_s1']['Crack500']['metrics']['dir'].endswith(
        osp.join('teacher_base', 'probe_s1', 'test_Crack500'))
    # Recorded relative to the repository, as every path of the record.
    assert recorded['probe_test']['GAPs384']['metrics']['dir'] == osp.join(
        'wd', 'teacher_base', 'probe', 'test_GAPs384')
    # --probe-seeds runs only the seeds named (two sittings split them).
    commands.clear()
    bench.cmd_probe(bench.parse_args([
        'probe', '--only', 'random_backbone', '--probe-seeds', '1',
        '--data-root', str(tmp_path / 'DeepCrack'), '--crack-sets-root',
        str(tmp_path / 'sets'), '--work-dir', 'wd']))
    assert [c[1] for c in commands] == ['tools/train.py'] + [
        'tools/test.py'] * 4
    assert 'randomness.seed=1' in commands[0]
    recorded = harness('records').load(str(results))
    assert set(recorded['random_backbone']) == {'probe_s1', 'probe_test_s1'}
    with pytest.raises(SystemExit, match='probe seeds are'):
        bench.cmd_probe(bench.parse_args(['probe', '--probe-seeds', '2']))


def test_missing_crack_sets_name_the_build_command(bench, tmp_path,
                                                   deepcrack_root):
    args = bench.parse_args(['train', '--data-root', deepcrack_root,
                             '--crack-sets-root', str(tmp_path)])
    with pytest.raises(SystemExit, match='lmm_crack_sets.py --source'):
        bench.check_data(args)


def fake_results(bench, iou_by_arm):
    results = {}
    for name, (arm, seed) in bench.entries().items():
        if arm not in iou_by_arm:
            continue
        values = iou_by_arm[arm]
        iou = values[seed % len(values)]
        results[name] = dict(
            train=dict(commit='abc', date='2026-01-01', wall_seconds=1.0,
                       command=f'train {name}',
                       trace={'distill_grad_ratio': dict(first=0.3,
                                                         last=0.1)}),
            test={s: dict(commit='abc', command=f'test {name} {s}',
                          metrics=dict(crack_iou=iou + i, crack_f1=iou,
                                       ods=iou))
                  for i, s in enumerate(bench.TEST_SETS)})
        if bench.is_student(arm):  # CKA: seed / 10 at block 3, 0.5 deeper
            results[name]['analysis'] = dict(linear_cka={
                s: {t: [seed / 10 + i / 100, 0.5, 0.5]
                    for t in ('teacher_base', 'teacher_large')}
                for i, s in enumerate(bench.TEST_SETS)})
    return results


def test_report_summarises_seeds_and_tests_contrasts(bench, tmp_path,
                                                    monkeypatch):
    report = harness('transfer_report')
    path = tmp_path / 'RESULTS.md'
    path.write_text('intro\n\n<!-- crack_transfer_cpu -->\nstale block\n'
                    '<!-- /crack_transfer_cpu -->\nkept\n')
    monkeypatch.setattr(harness('records'), 'REPORT', str(path))
    monkeypatch.setattr(report, 'PLOT', str(tmp_path / 'plot.png'))
    # The costs block of benchmarks/README.md reads the committed records.
    monkeypatch.setattr(report.report, 'write_costs', lambda: None)
    results = fake_results(bench, dict(
        student_plain=[60.0, 62.0, 64.0], crackdino=[70.0, 71.0, 72.0],
        distill_plain=[61.0, 65.0, 63.0], teacher_base=[50.0]))
    for name, value in (('teacher_base', 40.0), ('crackdino_s1', 30.0),
                        ('crackdino_s2', 32.0)):
        results[name]['probe_test'] = {
            s: dict(metrics=dict(crack_iou=value + i))
            for i, s in enumerate(bench.CRACK_SETS)}
    old = dict(results['crackdino_s0'], superseded_because='old loss')
    old['test'] = {'DeepCrack': old['test']['DeepCrack']}
    results['superseded'] = {'crackdino_s0 (old)': old}
    report.write(results, bench.entries(), bench.ARMS, bench.TEST_SETS,
                 bench.PARTNERS)
    text = path.read_text()
    assert text.startswith('intro') and text.rstrip().endswith('kept')
    assert 'stale block' not in text
    # DeepCrack column: mean and sample sd of the seeds; cross-domain mean
    # averages the four other sets (+1..+4) per seed.
    assert '| student_plain | student, plain decoder | 62.00 ± 2.00 (3) |' \
        in text
    assert '64.50 ± 2.00 (3) |' in text
    assert '| teacher_base |' in text and '| 50.00 |' in text
    # Paired by seed: crackdino − student_plain = 10, 9, 8 (mean 9, sd 1,
    # t = 15.6 on 2 df); distill_plain − student_plain = 1, 3, -1.
    assert '| crackdino − student_plain | full method against the student ' \
        'alone | see configs |' in text
    assert '| crackdino − student_plain | paired, 3 | +9.00 [+6.52, +11.48] ' \
        'p=0.004 |' in text
    assert '| distill_plain − student_plain | distillation, plain decoder ' \
        '| `center_momentum`, `distill_loss`, `distill_weight`, ' \
        '`seg_weight`, `teachers`, `backbone.out_indices`, ' \
        '`neck.num_inputs` (seg_weight 0.7 against 1) |' in text
    assert '| distill_plain − student_plain | paired, 3 | +1.00 [-3.97, ' \
        '+5.97] p=0.478 |' in text
    assert '| crackdino_mse − crackdino | | not run |' in text
    # Pooled over both heads: student_lipschitz is not run, so only the
    # three plain-decoder pairs count.
    assert '| pooled: distillation, both heads | paired, 3 | +1.00 [-3.97, ' \
        '+5.97] p=0.478 |' in text
    assert 'exceeds the spread' not in text
    # CKA over seeds 0, 0.1, 0.2 (+ 0.00 on DeepCrack, + 0.025 on average
    # over the crack sets), then 0.5 at the deeper pairs.
    assert '| crackdino | 0.100 ± 0.100 | 0.500 ± 0.000 |' in text
    assert '| crackdino | 0.125 ± 0.100 |' in text
    assert '| crackdino_s0 (old) | 70.00 | not evaluated |' in text
    assert 'old loss |' in text
    # Probes: per set over the probed seeds (1 and 2), then the crack-set
    # mean beside the same seeds' own heads (71, 72 + 2.5 on average).
    assert '| teacher_base | 1 | 40.00 | 41.00 | 42.00 | 43.00 | 41.50 | ' \
        '52.50 |' in text
    assert '| crackdino | 1 | 31.00 ± 1.41 (2) | 32.00 ± 1.41 (2) |' in text
    assert '| 32.50 ± 1.41 (2) | 74.00 ± 0.71 (2) |' in text
    assert '0.3 → 0.1' in text
    assert (tmp_path / 'plot.png').stat().st_size > 0


def test_t_distribution_matches_its_tables(bench):
    report = harness('transfer_report')
    # Two-sided 5 % critical values of Student's t (any statistics table).
    assert report.t_quantile(0.975, 2) == pytest.approx(4.303, abs=1e-3)
    assert report.t_quantile(0.975, 5) == pytest.approx(2.571, abs=1e-3)
    assert report.t_two_sided_p(2.571, 5) == pytest.approx(0.05, abs=1e-3)
    assert report.t_two_sided_p(0.0, 3) == 1.0
    diff, low, high, p, df = report.welch_test([1, 2, 4, 3], [0, 1, 1.5])
    assert (diff, df) == (pytest.approx(5 / 3), pytest.approx(4.864, 1e-3))
    assert p == pytest.approx(0.0877, abs=1e-4)
    assert low < diff < high


def test_a_single_run_is_tested_against_the_spread_of_a_seeded_arm(bench):
    report = harness('transfer_report')
    # 5 against seeds 1, 2, 3: se = 1 * sqrt(1 + 1/3), t = 2.598 on 2 df,
    # and for 2 df P(|T| > t) = 1 - t / sqrt(t^2 + 2) = 0.1217.
    diff, low, high, p, df = report.single_run_test(5, [1, 2, 3])
    assert (diff, df) == (3, 2)
    assert p == pytest.approx(0.1217, abs=1e-4)
    assert high - diff == pytest.approx(4.303 * math.sqrt(4 / 3), abs=1e-3)
    assert report.single_run_test(2.1, [1, 2, 3])[3] > 0.9
    cell = report.contrast({0: 5.0}, {0: 1.0, 1: 2.0, 2: 3.0})
    assert cell == '+3.00 [-1.97, +7.97] p=0.122 (1 run against 3 seeds)'
    assert 'no test' in report.contrast({0: 5.0}, {0: 1.0})


def test_report_reads_the_mechanism_test_as_a_fraction_of_the_gap(
        bench, tmp_path, monkeypatch):
    report = harness('transfer_report')
    path = tmp_path / 'RESULTS.md'
    monkeypatch.setattr(harness('records'), 'REPORT', str(path))
    monkeypatch.setattr(report, 'write_plot', lambda *a: False)
    monkeypatch.setattr(report.report, 'write_costs', lambda: None)

    def probe(value):
        return {s: dict(metrics=dict(crack_iou=value))
                for s in bench.CRACK_SETS}

    results = dict(teacher_base=dict(probe_test=probe(20.0),
                                     probe_test_s1=probe(20.0)),
                   random_backbone=dict(probe_test=probe(10.0),
                                        probe_test_s1=probe(10.0)))
    for seed, gain in enumerate((2.0, 3.0, 4.0)):
        results[f'scratch_student_s{seed}'] = dict(
            probe_test=probe(12.0), probe_test_s1=probe(12.0))
        results[f'scratch_distill_s{seed}'] = dict(
            probe_test=probe(12.0 + gain), probe_test_s1=probe(12.0 + gain))
    report.write(results, bench.entries(), bench.ARMS, bench.TEST_SETS)
    text = path.read_text()
    # Gains 2, 3, 4 of a 10-point gap: mean 3, se 1/sqrt(3), t(0.975, 2)
    # 4.303, so 3 +- 2.48 points (p 0.035), and 0.300 +- 0.248 of the gap.
    row = next(line for line in text.splitlines()
               if line.startswith('| scratch_distill − scratch_student ')
               and '| Crack500 | 10.00 | 20.00 | 12.00 | 15.00 |' in line)
    assert '| +3.00 [+0.52, +5.48] p=0.035 (df 2) | ' \
        '+0.300 [+0.052, +0.548] | 3 |' in row
    assert '(DeepCrack) | crack-set mean | 10.00 | 20.00 | 12.00 | 15.00 | ' \
        '+3.00' in text
    # The fallback pair is not run: its rows say so.
    assert '(DeepCrack + unlabelled crack-set images) | Crack500 | to run' \
        in text
    # The probe table shows the floor and each entry's mean over its probe
    # seeds.
    assert '| random_backbone | 2 | 10.00 |' in text
    assert '| scratch_distill | 2 | 15.00 ± 1.00 (3) |' in text
    # Arms that are both probed get the report's contrast on the probe.
    assert '| scratch_distill − scratch_student | distillation, student ' \
        'from random weights (the mechanism test) | +3.00 [+0.52, +5.48] ' \
        'p=0.035 (paired, 3) |' in text
    # One seed pair gives the probe means, not yet a fraction.
    for seed in (1, 2):
        del results[f'scratch_distill_s{seed}']
    report.write(results, bench.entries(), bench.ARMS, bench.TEST_SETS)
    assert '| Crack500 | 10.00 | 20.00 | 12.00 | 14.00 | needs 2 seed pairs ' \
        '| needs 2 seed pairs | 1 |' in path.read_text()


def test_linear_cka_sees_through_rotation_and_scale(bench):
    linear_cka = harness('transfer_analysis').linear_cka
    import torch
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 16, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(16, 16, generator=g))
    assert linear_cka(x, 3 * x @ rotation + 1) == pytest.approx(1, abs=1e-5)
    assert linear_cka(x, torch.randn(500, 16, generator=g)) < 0.1
    half = torch.cat([x[:, :8], torch.randn(500, 8, generator=g)], 1)
    assert 0.3 < linear_cka(x, half) < 0.7


def test_block_features_read_any_block(bench):
    analysis = harness('transfer_analysis')
    block_features, with_layers = analysis.block_features, analysis.with_layers
    import numpy as np
    from mmseg.registry import MODELS
    model = MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0] * 3,
                               std=[1] * 3),
        backbone=dict(type='DINOv2', img_size=28, out_indices=(3, ),
                      arch=dict(embed_dims=16, num_layers=4, num_heads=2,
                                feedforward_channels=16)),
        decode_head=dict(type='FCNHead', in_channels=16, channels=8,
                         num_classes=2, out_channels=1, threshold=0.5)))
    images = [np.zeros((28, 28, 3), np.uint8), np.ones((28, 28, 3),
                                                      np.uint8)]
    first, last = block_features(with_layers(model.eval(), (0, 3)), images,
                                 (0, 3))
    assert first.shape == last.shape == (2 * 2 * 2, 16)
    assert not torch_equal(first, last)


def torch_equal(a, b):
    return bool((a == b).all())


def test_kept_source_is_the_float16_backbone(bench, tmp_path, monkeypatch):
    import torch
    run = tmp_path / 'wd' / 'teacher_base'
    run.mkdir(parents=True)
    state = {'backbone.w': torch.randn(3), 'backbone.step': torch.tensor(4),
             'decode_head.w': torch.randn(2)}
    torch.save(dict(state_dict=state, optimizer={}), run / 'iter_1000.pth')
    monkeypatch.setattr(bench, 'REPO', str(tmp_path))
    bench.export_source('teacher_base', 'wd')
    kept = torch.load(tmp_path / bench.source_weights('teacher_base'))
    assert set(kept) == {'state_dict'}
    assert set(kept['state_dict']) == {'backbone.w', 'backbone.step'}
    assert kept['state_dict']['backbone.w'].dtype == torch.float16
    assert kept['state_dict']['backbone.step'].dtype == torch.int64
    torch.testing.assert_close(kept['state_dict']['backbone.w'].float(),
                               state['backbone.w'], atol=1e-3, rtol=1e-3)


def test_a_run_cut_short_resumes(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(harness('commands'), 'REPO', str(tmp_path))
    args = bench.parse_args(['train', '--work-dir', 'wd'])
    command = bench.train_command('student_plain_s1', args)
    assert '--resume' not in command
    assert 'default_hooks.checkpoint.interval=100' in command
    (tmp_path / 'wd' / 'student_plain_s1').mkdir(parents=True)
    (tmp_path / 'wd' / 'student_plain_s1' / 'last_checkpoint').write_text(
        'wd/student_plain_s1/iter_300.pth')
    command = bench.train_command('student_plain_s1', args)
    assert command[command.index('--work-dir') + 2] == '--resume'


def test_loss_forms_tell_the_normalised_kl_from_the_raw_one(bench):
    import torch
    loss_forms = harness('transfer_analysis').loss_forms
    g = torch.Generator().manual_seed(0)
    large = torch.randn(200, 64, generator=g)
    base = large + 0.3 * torch.randn(200, 64, generator=g)
    forms = loss_forms(base, large)
    cosine = forms['(1-cos)/C']
    assert forms['mse_normalised/2'] == pytest.approx(cosine, rel=1e-3)
    for t in ('1', '3', '10'):
        assert forms[f'kl_T{t}'] == pytest.approx(cosine, rel=0.1)
        assert forms[f'kl_T{t}_raw'] > 5 * cosine
    # Scaling both maps leaves the normalised forms and moves the raw KL.
    scaled = loss_forms(3 * base, 3 * large)
    assert scaled['kl_T3'] == pytest.approx(forms['kl_T3'], rel=1e-3)
    assert scaled['kl_T3_raw'] > 2 * forms['kl_T3_raw']


def test_contrast_row_names_one_test_kind_once():
    report = harness('transfer_report')
    paired = '+1.00 [-1.00, +3.00] p=0.100 (paired, 3)'
    assert report.contrast_row('a − b', [paired, paired]) == (
        '| a − b | paired, 3 | +1.00 [-1.00, +3.00] p=0.100 | '
        '+1.00 [-1.00, +3.00] p=0.100 |')
    mixed = '+2.00 [-1.00, +5.00] p=0.200 (Welch, 3+2)'
    assert report.contrast_row('a − b', [paired, mixed, 'not run']) == (
        f'| a − b | | {paired} | {mixed} | not run |')
