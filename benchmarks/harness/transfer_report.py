"""Tables and plot of the crack-transfer study (its ``report`` stage).

Seeded arms are summarised as mean +- sample standard deviation over their
seeds. A contrast between two arms is a t-test: paired by seed where both
arms ran the same seeds (the runs share data order and initialisation of
the head), Welch's otherwise, and a single-seed variant against its
partner's seeds as a new draw from them, each with its difference, 95 %
confidence interval and two-sided p-value; a pooled contrast pairs the
seeds within each of several arm pairs that share a factor (t
distribution: ``harness.stats``).
"""
import math
import os.path as osp
import re
import statistics

from mmengine.config import Config

from harness import plots, records, report, transfer_analysis
from harness.stats import t_quantile, t_two_sided_p

PLOT = records.results_path('crack_transfer_cpu.png')
SECTION = 'crack_transfer_cpu'
METRICS = (('crack_iou', 'crack IoU'), ('crack_f1', 'F1'), ('ods', 'ODS'))
# (arm, arm it is compared with, what the difference measures)
CONTRASTS = (
    ('distill_plain', 'student_plain', 'distillation, plain decoder'),
    ('crackdino', 'student_lipschitz', 'distillation, Lipschitz head'),
    ('student_lipschitz', 'student_plain', 'Lipschitz head'),
    ('crackdino', 'student_plain', 'full method against the student alone'),
    ('crackdino_cosine', 'crackdino', 'cosine instead of channel KL'),
    ('crackdino_mse', 'crackdino', 'MSE instead of channel KL'),
    ('distill_plain_x10', 'distill_plain', 'distillation 10x stronger'),
    ('crackdino_learnedproj', 'crackdino', 'learned projection to the large '
     'teacher'),
    ('crackdino_rawkl', 'crackdino', 'channel KL on raw centred maps '
     'instead of L2-normalised ones'),
    ('scratch_distill', 'scratch_student', 'distillation, student from '
     'random weights (the mechanism test)'),
    ('segformer_ft', 'segformer_scratch', 'crack-set pre-training of the '
     'baseline'),
    ('crackdino', 'segformer_ft', 'full method against the baseline, both '
     'from crack-set pre-training'),
)


# (what, [(arm, partner), ...]): contrasts pooled over a shared factor.
POOLED = (
    ('distillation, both heads (distill_plain − student_plain and '
     'crackdino − student_lipschitz)',
     (('distill_plain', 'student_plain'), ('crackdino', 'student_lipschitz'))),
    ('Lipschitz head, with and without distillation',
     (('student_lipschitz', 'student_plain'), ('crackdino', 'distill_plain'))),
)


def paired_test(differences):
    """(mean, 95 % CI low, high, p, df) of paired differences."""
    n = len(differences)
    mean = statistics.mean(differences)
    se = statistics.stdev(differences) / math.sqrt(n)
    df = n - 1
    half = t_quantile(0.975, df) * se
    p = t_two_sided_p(mean / se, df) if se > 0 else float(mean == 0)
    return mean, mean - half, mean + half, p, df


def welch_test(a, b):
    """(difference, 95 % CI low, high, p, df) of Welch's t-test."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    diff = statistics.mean(a) - statistics.mean(b)
    half = t_quantile(0.975, df) * se
    return diff, diff - half, diff + half, t_two_sided_p(diff / se, df), df


def single_run_test(value, seeded):
    """(difference, 95 % CI low, high, p, df) of one run against the mean
    of an arm's seeds, assuming the run varies over seeds as much as the
    arm does (t with the arm's n - 1 df; standard error
    sd * sqrt(1 + 1/n), as for a new draw from that arm)."""
    n = len(seeded)
    se = statistics.stdev(seeded) * math.sqrt(1 + 1 / n)
    diff, df = value - statistics.mean(seeded), n - 1
    half = t_quantile(0.975, df) * se
    p = t_two_sided_p(diff / se, df) if se > 0 else float(diff == 0)
    return diff, diff - half, diff + half, p, df


def seed_values(results, entries, arm, test_set, metric):
    """{seed: metric} of an arm's evaluated seeds; test_set None = the
    mean over the cross-domain sets (only seeds evaluated on all)."""
    found = {}
    for name, (a, seed) in entries.items():
        tests = results.get(name, {}).get('test', {})
        sets = test_set if isinstance(test_set, tuple) else (test_set, )
        if a == arm and all(s in tests for s in sets):
            found[seed] = statistics.mean(tests[s]['metrics'][metric]
                                          for s in sets)
    return found


def contrast(a, b):
    """A t-test cell for two {seed: value} dicts."""
    if not a or not b:
        return 'not run'
    shared = sorted(set(a) & set(b))
    if len(shared) >= 2:
        test, kind = paired_test([a[s] - b[s] for s in shared]), \
            f'paired, {len(shared)}'
    elif len(a) >= 2 and len(b) >= 2:
        test, kind = welch_test(list(a.values()), list(b.values())), \
            f'Welch, {len(a)}+{len(b)}'
    elif len(a) == 1 and len(b) >= 2:
        test, kind = single_run_test(next(iter(a.values())),
                                     list(b.values())), \
            f'1 run against {len(b)} seeds'
    else:
        diff = statistics.mean(a.values()) - statistics.mean(b.values())
        return f'{diff:+.2f} (single seed, no test)'
    return format_test(test, kind)


def format_test(test, kind):
    diff, low, high, p, _ = test
    return f'{diff:+.2f} [{low:+.2f}, {high:+.2f}] p={p:.3f} ({kind})'


def pooled_contrast(results, entries, pairs, test_set, metric):
    """Paired t-test on the seed differences of several arm pairs."""
    differences = []
    for arm, other in pairs:
        a = seed_values(results, entries, arm, test_set, metric)
        b = seed_values(results, entries, other, test_set, metric)
        differences += [a[s] - b[s] for s in sorted(set(a) & set(b))]
    if len(differences) < 2:
        return 'not run'
    return format_test(paired_test(differences),
                       f'paired, {len(differences)}')


def split_kind(cell):
    """A contrast cell's figures and the kind of its test ('paired, 3'),
    or the cell and None when it has no test."""
    match = re.fullmatch(r'(.*\] p=\S+) \((.*)\)', cell)
    return (match[1], match[2]) if match else (cell, None)


def contrast_row(name, cells):
    """A table row of one contrast: its test kind in a column of its own
    when every cell has the same, else within each cell."""
    kinds = {split_kind(c)[1] for c in cells} - {None}
    if len(kinds) == 1:
        return (f'| {name} | {kinds.pop()} | ' +
                ' | '.join(split_kind(c)[0] for c in cells) + ' |')
    return f'| {name} | | ' + ' | '.join(cells) + ' |'


def pooled_name(what):
    """A pooled contrast's row name: what it measures, less its pairs."""
    return 'pooled: ' + what.split(' (')[0]


def contrast_lines(results, entries, arms, test_sets, partners):
    """What each contrast measures, then per metric its tests on DeepCrack
    and the crack-set mean, and on each crack set (two narrow tables)."""
    cross = tuple(test_sets[1:])
    lines = [report.template('crack_transfer_contrasts'), '',
             '| contrast | what it measures | differs from its partner in |',
             '|---|---|---|']
    lines += [f'| {arm} − {other} | {what} | '
              f'{differs(arm, other, partners, arms)} |'
              for arm, other, what in CONTRASTS]
    lines += [f'| {pooled_name(what)} | {what} | as its pairs |'
              for what, _ in POOLED]
    for metric, title in METRICS[::2]:
        rows = [(f'{arm} − {other}', [contrast(
            seed_values(results, entries, arm, s, metric),
            seed_values(results, entries, other, s, metric))
            for s in list(test_sets) + [cross]])
            for arm, other, _ in CONTRASTS]
        rows += [(pooled_name(what), [
            pooled_contrast(results, entries, pairs, s, metric)
            for s in list(test_sets) + [cross]]) for what, pairs in POOLED]
        for heading, columns in (
                ('DeepCrack and the crack-set mean', (0, len(test_sets))),
                ('each crack set', range(1, len(test_sets)))):
            names = [(list(test_sets) + ['crack-set mean'])[c]
                     for c in columns]
            lines += ['', f'#### {title}: {heading}', '',
                      '| contrast | test | ' + ' | '.join(names) + ' |',
                      '|---|---|' + '---|' * len(names)]
            lines += [contrast_row(name, [cells[c] for c in columns])
                      for name, cells in rows]
    return lines + ['']


def seg_weight(arms, arm):
    """An arm's weight on the segmentation losses (1 without a
    distiller)."""
    model = Config.fromfile(osp.join(records.REPO, arms[arm][0])).model
    return float(model.get('seg_weight', 1.0))


def differs(arm, other, partners, arms):
    """The declared model-config differences of a contrast (tested to be
    all of them), with the two segmentation weights where they differ."""
    if not partners or partners.get(arm, (None, ))[0] != other:
        return 'see configs'
    keys = ', '.join(f'`{k}`' for k in partners[arm][1])
    weights = seg_weight(arms, arm), seg_weight(arms, other)
    if weights[0] != weights[1]:
        keys += f' (seg_weight {weights[0]:g} against {weights[1]:g})'
    return keys


def arm_values(results, entries, arm, test_set, metric):
    """The metric of every evaluated seed of an arm."""
    return [results[name]['test'][test_set]['metrics'][metric]
            for name, (a, _) in entries.items()
            if a == arm and test_set in results.get(name, {}).get('test', {})]


def cross_domain_values(results, entries, arm, test_sets, metric):
    """Per seed, the mean of the metric over the cross-domain sets (only
    seeds evaluated on all of them)."""
    values = []
    for name, (a, _) in entries.items():
        tests = results.get(name, {}).get('test', {})
        if a == arm and all(s in tests for s in test_sets):
            values.append(statistics.mean(
                tests[s]['metrics'][metric] for s in test_sets))
    return values


def summary(values):
    """(mean, sd, n); sd is 0 for a single value."""
    if not values:
        return None
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), sd, len(values)


def cell(stats):
    if stats is None:
        return 'not run'
    mean, sd, n = stats
    return f'{mean:.2f}' if n == 1 else f'{mean:.2f} ± {sd:.2f} ({n})'


def verdict(a, b):
    """How arm a compares with arm b, by their means and spreads."""
    if a is None or b is None:
        return 'not run'
    diff = a[0] - b[0]
    if a[2] < 2 or b[2] < 2:
        return f'{diff:+.2f} (single seed)'
    real = abs(diff) > a[1] + b[1]
    return f'{diff:+.2f} ({"exceeds" if real else "within"} the spread)'


def columns(results, entries, arm, test_sets, metric):
    cross = test_sets[1:]
    stats = [summary(arm_values(results, entries, arm, s, metric))
             for s in test_sets]
    stats.append(summary(cross_domain_values(results, entries, arm, cross,
                                             metric)))
    return stats


def write(results, entries, arms, test_sets, partners=None):
    arm_order = [a for a in dict.fromkeys(a for a, _ in entries.values())
                 if arms[a][2] != 'none']
    header = ['arm', 'what'] + list(test_sets) + ['crack-set mean']
    lines = [report.template('crack_transfer_cpu'), '']
    for metric, title in METRICS:
        lines += [f'### {title}', '',
                  '| ' + ' | '.join(header) + ' |',
                  '|' + '---|' * len(header)]
        for arm in arm_order:
            stats = columns(results, entries, arm, test_sets, metric)
            lines.append(f'| {arm} | {arms[arm][1]} | ' +
                         ' | '.join(cell(s) for s in stats) + ' |')
        lines.append('')
    lines += contrast_lines(results, entries, arms, test_sets, partners)
    lines += agreement_lines(results, entries, arm_order, test_sets)
    lines += probe_lines(results, entries, arm_order, test_sets[1:])
    lines += mechanism_lines(results, entries, test_sets[1:])
    lines += step0_lines(results)
    lines += superseded_lines(results, test_sets)
    lines += ['### Distillation strength during training', '',
              'Logged by the distiller every 50 steps: '
              '`distill_grad_ratio` = norm of the distillation gradient on '
              'the student backbone / norm of the segmentation gradient '
              '(first and last logged value); `gp_grad_norm` = the '
              'Lipschitz head\'s normalised input-gradient norm (bound 0.8).',
              '', '| entry | distill_grad_ratio | loss_distill_t0 (large) | '
              'loss_distill_t1 (base) | gp_grad_norm |', '|---|---|---|---|---|']
    for name in entries:
        train = results.get(name, {}).get('train', {})
        trace = train.get('trace', {})
        if not trace:
            continue
        if train.get('resumed'):
            name += ' (resumed: first = at the resume point)'
        cells = [trace.get(k) for k in ('distill_grad_ratio',
                                        'loss_distill_t0', 'loss_distill_t1',
                                        'decode.gp_grad_norm')]
        lines.append(f'| {name} | ' + ' | '.join(
            '' if c is None else f'{c["first"]:.4g} → {c["last"]:.4g}'
            for c in cells) + ' |')
    if write_plot(results, entries, arms, test_sets):
        lines += ['', '![in-domain against cross-domain crack IoU per arm]'
                  '(results/crack_transfer_cpu.png)', '',
                  'Each point is an arm\'s mean over its seeds; bars are one '
                  'standard deviation.']
    lines += ['', '### Commands', '']
    untrained = [n for n, (a, _) in entries.items()
                 if 'train' not in results.get(n, {}) and
                 arms[a][2] != 'none']
    unprobed = [n for n, (a, _) in entries.items()
                if a in [arm for pair in MECHANISM for arm in pair[:2]] +
                ['teacher_base', 'random_backbone'] and
                not all(k in results.get(n, {})
                        for k in ('probe_test', 'probe_test_s1'))]
    if untrained or unprobed:
        script = 'python benchmarks/crack_transfer_cpu.py'
        lines += ['To run (one core each; two sittings may share the '
                  'machine):', '']
        if untrained:
            lines.append(f'- `{script} run --threads 1 --only '
                         f'{" ".join(untrained)}`')
        if unprobed:
            lines.append(f'- `{script} probe --threads 1 --only '
                         f'{" ".join(unprobed)}`')
        lines += [f'- `{script} report`', '']
    runs, tests = [], 0
    for name in entries:
        entry = results.get(name, {})
        if 'train' in entry:
            run = entry['train']
            runs.append((f'{name} train (commit {run["commit"]}, '
                         f'{run["date"]}, {run["wall_seconds"]:.0f} s)',
                         run['command']))
        tests += len(entry.get('test', {}))
    lines += report.command_block(runs) + [
        '', f'Each of the {tests} evaluations runs `python tools/test.py '
        'CONFIG work_dirs/crack_transfer/NAME/iter_1000.pth --work-dir',
        'work_dirs/crack_transfer/NAME/test_SET --cfg-options '
        'test_dataloader.dataset.data_root=ROOT`',
        '(ROOT: DeepCrack\'s or `data/crack_sets/SET`); its exact command '
        'and commit are in', '`benchmarks/results/crack_transfer_cpu.json`.']
    report.write_section(records.REPORT, SECTION, lines)
    report.write_costs()


def agreement_lines(results, entries, arm_order, test_sets):
    """Linear CKA of each student arm with each teacher, per layer pair,
    on DeepCrack and averaged over the crack sets (mean ± sd over seeds)."""
    pairs = [(teacher, index, layer) for teacher, _, _, layers in
             transfer_analysis.TEACHERS for index, layer in enumerate(layers)]
    header = [f'{teacher} block {layer}' for teacher, _, layer in pairs]
    lines = []
    for where, sets in (('DeepCrack', test_sets[:1]),
                        ('crack-set mean', test_sets[1:])):
        rows = []
        for arm in arm_order:
            found = [results[name]['analysis']['linear_cka']
                     for name, (a, _) in entries.items()
                     if a == arm and 'analysis' in results.get(name, {})]
            if found:
                rows.append(f'| {arm} | ' + ' | '.join(cka_cell([
                    statistics.mean(cka[s][teacher][index] for s in sets)
                    for cka in found]) for teacher, index, _ in pairs) + ' |')
        start = results.get('measurements', {}).get('step0', {}).get(
            'start_cka_with_large')
        if rows and start and where == 'DeepCrack':
            rows.insert(0, '| start (every student = teacher_base) | ' +
                        ' | '.join('1.000' if teacher == 'teacher_base' else
                                   f'{list(start.values())[index]:.3f}'
                                   for teacher, index, _ in pairs) + ' |')
        if rows:
            lines += [f'{where}:', '', '| arm | ' + ' | '.join(header) + ' |',
                      '|---|' + '---|' * len(header), *rows, '']
    if not lines:
        return []
    return ['### Feature agreement with the teachers', '',
            'Linear CKA between the student backbone\'s block 3 / 7 / 11 '
            'maps and the paired teacher maps on 32 held-out test images per '
            'set (1 = the same representation up to rotation and scale), '
            'mean ± sd over seeds. Every student starts as `teacher_base` '
            '(CKA 1 with it) and at the teachers\' own CKA with '
            '`teacher_large` (the start row, `measure` stage). A value '
            'below the start is drift away from the large teacher, whatever '
            'the other arm does: distillation can only be read as a '
            'pull toward the large teacher where a distilled arm ends above '
            'the start.', '', *lines]


def probe_lines(results, entries, arm_order, crack_sets):
    """Crack IoU of the frozen-backbone probes, per arm over its entries
    (each the mean over its probe seeds), beside the same entries' own
    heads on the same sets; the random-backbone floor included."""
    rows = []
    for arm in list(dict.fromkeys(arm_order + ['random_backbone'])):
        names = [name for name, (a, _) in entries.items() if a == arm and
                 probe_means(results, name, crack_sets, None)]
        if not names:
            continue

        def values(test_set, names=names):
            return [statistics.mean(probe_means(results, n, crack_sets,
                                                test_set)) for n in names]

        def own(test_set, names=names):
            return [results[n]['test'][test_set]['metrics']['crack_iou']
                    for n in names
                    if test_set in results[n].get('test', {})]

        seeds = sorted({len(probe_means(results, n, crack_sets, None))
                        for n in names})
        cells = [cell(summary(values(s))) for s in crack_sets]
        own_mean = [statistics.mean(v) for v in zip(*map(own, crack_sets))]
        rows.append(f'| {arm} | {"/".join(map(str, seeds))} | ' +
                    ' | '.join(cells) + ' | ' + cell(summary(values(None))) +
                    ' | ' + (cell(summary(own_mean)) if own_mean else
                             'none') + ' |')
    if not rows:
        return []
    return ['### Frozen-backbone probe on the crack sets (crack IoU)', '',
            'What a trained backbone still knows of the crack sets: frozen, '
            'with a fresh plain decoder trained on their training splits for '
            '300 iterations (`python benchmarks/crack_transfer_cpu.py probe`),'
            ' tested on their test splits. Each entry is the mean over its '
            'probe seeds; cells are mean ± sd over the arm\'s entries '
            '(seeds). The last column is the same entries\' own model '
            '(DeepCrack-trained head) on the same sets; `random_backbone` is '
            'an untrained backbone, the probe\'s floor.',
            '', '| backbone of | probe seeds | ' + ' | '.join(crack_sets) +
            ' | crack-set mean | own head, crack-set mean |',
            '|---|---|' + '---|' * (len(crack_sets) + 2), *rows, '',
            *probe_contrast_lines(results, entries, crack_sets)]


#: (arm with distillation, arm without, data) of the mechanism test, and
#: of its fallback on unlabelled crack-set images.
MECHANISM = (('scratch_distill', 'scratch_student', 'DeepCrack'),
             ('unlab_distill', 'unlab_student',
              'DeepCrack + unlabelled crack-set images'))


def probe_means(results, name, crack_sets, test_set):
    """Per probe seed of an entry, its crack IoU on test_set (None: the
    mean over the crack sets)."""
    found = []
    for key in sorted(k for k in results.get(name, {})
                      if k.startswith('probe_test')):
        tests = results[name][key]
        if all(s in tests for s in crack_sets):
            sets = crack_sets if test_set is None else (test_set, )
            found.append(statistics.mean(
                tests[s]['metrics']['crack_iou'] for s in sets))
    return found


def probed_by_seed(results, entries, arm, crack_sets, test_set):
    """{seed: probe crack IoU, mean over its probe seeds} of an arm."""
    return {seed: statistics.mean(v) for name, (a, seed) in entries.items()
            if a == arm and
            (v := probe_means(results, name, crack_sets, test_set))}


def probe_contrast_lines(results, entries, crack_sets):
    """The report's contrasts whose two arms are both probed, on Crack500
    (the first set) and the crack-set mean."""
    rows = []
    for arm, other, what in CONTRASTS:
        cells = [contrast(*(probed_by_seed(results, entries, a, crack_sets,
                                           test_set) for a in (arm, other)))
                 for test_set in (crack_sets[0], None)]
        if 'not run' not in cells:
            rows.append(f'| {arm} − {other} | {what} | ' + ' | '.join(cells)
                        + ' |')
    if not rows:
        return []
    return ['Probe contrasts (tests as in the contrast tables):', '',
            f'| contrast | what it measures | {crack_sets[0]} | '
            'crack-set mean |', '|---|---|---|---|', *rows, '']


def gap_fraction(results, entries, pair, crack_sets, test_set):
    """Probe gain of distillation over segmentation alone: a paired t-test
    over seed pairs (t, not a bootstrap: a bootstrap of 3 pairs cannot
    reach beyond their range), and that gain as a fraction of the probe's
    floor-to-ceiling gap (the interval divided by the mean gap)."""
    with_d, without = (probed_by_seed(results, entries, arm, crack_sets,
                                      test_set) for arm in pair)
    floor = probe_means(results, 'random_backbone', crack_sets, test_set)
    ceiling = probe_means(results, 'teacher_base', crack_sets, test_set)
    seeds = sorted(set(with_d) & set(without))
    if not seeds or not floor or not ceiling:
        return None
    means = (statistics.mean(without[s] for s in seeds),
             statistics.mean(with_d[s] for s in seeds),
             statistics.mean(floor), statistics.mean(ceiling))
    test = paired_test([with_d[s] - without[s] for s in seeds]) \
        if len(seeds) >= 2 else None
    return (test, len(seeds)) + means


def mechanism_cells(test, floor, ceiling):
    """The difference and gap-fraction cells of a mechanism-test row."""
    if test is None:
        return 'needs 2 seed pairs | needs 2 seed pairs'
    gap = ceiling - floor
    diff, low, high, p, df = test
    return (f'{diff:+.2f} [{low:+.2f}, {high:+.2f}] p={p:.3f} (df {df}) | '
            f'{diff / gap:+.3f} [{low / gap:+.3f}, {high / gap:+.3f}]')


def mechanism_lines(results, entries, crack_sets):
    """The mechanism test: random-init students with and without
    distillation, read by the frozen-backbone probe."""
    rows = []
    for with_d, without, data in MECHANISM:
        for label, test_set in ((crack_sets[0], crack_sets[0]),
                                ('crack-set mean', None)):
            found = gap_fraction(results, entries, (with_d, without),
                                 crack_sets, test_set)
            head = f'| {with_d} − {without} ({data}) | {label} |'
            if found is None:
                rows.append(f'{head} to run | | | | | | |')
                continue
            test, n, alone, distilled, floor, ceiling = found
            rows.append(f'{head} {floor:.2f} | {ceiling:.2f} | {alone:.2f} '
                        f'| {distilled:.2f} | '
                        f'{mechanism_cells(test, floor, ceiling)} | {n} |')
    return ['### Mechanism test: can distillation carry crack-set knowledge?',
            '', 'The students above start as the base teacher, so the base '
            'teacher\'s term is zero at their first step and the large '
            'teacher, trained on the same data at the same width, knows '
            'nothing the student lacks: that design could not show a '
            'transfer. Here the student starts from random weights '
            '(`scratch_student`: segmentation only; `scratch_distill`: the '
            'full method with a learned projection to the large teacher, '
            'seg_weight 1; seeds 0-2, paired by seed), and its frozen '
            'backbone is probed on the crack sets with two probe seeds '
            '(their mean is the seed\'s value). Floor: a random backbone '
            'probed alike (`random_backbone`); ceiling: the base teacher. '
            'Gain = distilled − segmentation only, in probe IoU points: '
            'mean over seed pairs, 95 % interval and p of the paired '
            't-test. Fraction of the gap closed = gain / (ceiling − floor), '
            'its interval the gain\'s divided by the same gap (the floor '
            'and ceiling are means of two probe seeds; their spread is in '
            'the probe table). If it is null, the `unlab_*` pair distils '
            'on the crack sets\' training images, unlabelled (segmentation '
            'losses skip them), mixed into the DeepCrack data.', '',
            '| contrast | probe crack IoU on | floor | ceiling | '
            'segmentation only | distilled | gain [95 % CI] p | '
            'fraction of the gap closed [95 % CI] | seed pairs |',
            '|---|---|---|---|---|---|---|---|---|',
            *rows, '']


def step0_lines(results):
    """What the distillation loss is at the students' first step, on the
    kept weights and DeepCrack images (``measure`` stage)."""
    step0 = results.get('measurements', {}).get('step0')
    if not step0:
        return []
    forms = step0['loss_forms']
    keys = list(next(iter(forms.values())))
    lines = ['### The loss forms at the first step', '',
             f'Student = base teacher, target = large teacher, paired '
             f'blocks, both centred, on {step0["images"]} (commit '
             f'{step0["commit"]}). On L2-normalised maps, channel KL x T² '
             f'equals (1 − cos)/C and normalised MSE/2 to about 1 % at every '
             f'T: the KL, cosine and MSE arms are one loss at three weights '
             f'(calibrated KL weight 13 = cosine weight 13/192 = MSE weight '
             f'13/2), and the temperature does nothing. The `_raw` columns '
             f'(`normalize=False`, the `crackdino_rawkl` arm) are a '
             f'different loss.', '',
             '| blocks | ' + ' | '.join(keys) + ' |',
             '|---|' + '---|' * len(keys)]
    lines += [f'| {pair} | ' + ' | '.join(f'{v[k]:.5f}' for k in keys) +
              ' |' for pair, v in forms.items()]
    ratios = step0.get('grad_ratio_step0', {})
    if ratios:
        lines += ['', 'Gradient ratio at step 0 on the kept weights, mean ± '
                  'sd over 3 batches of 8 DeepCrack training crops '
                  '(`distill_grad_ratio.real_ratios`; t0 = large teacher, '
                  't1 = base teacher). The '
                  'calibration\'s 0.33 was measured on random weights; the '
                  'ratios logged in training (table below) are on the real '
                  'weights.', '',
                  '| distiller | ratio, large teacher | ratio, base teacher '
                  '| ratio, total | loss t0 | loss t1 |',
                  '|---|---|---|---|---|---|']
        keys = ('ratio_t0', 'ratio_t1', 'ratio_total', 'loss_distill_t0',
                'loss_distill_t1')
        lines += [f'| {arm} | ' + ' | '.join(
            f'{r[k][0]:.4g} ± {r[k][1]:.2g}' for k in keys) + ' |'
            for arm, r in ratios.items()]
    return lines + ['']


def cka_cell(values):
    mean, sd, n = summary(values)
    return f'{mean:.3f}' if n == 1 else f'{mean:.3f} ± {sd:.3f}'


def superseded_lines(results, test_sets):
    """Crack IoU of runs kept as records but left out of the tables."""
    old = results.get('superseded', {})
    rows = [f'| {name} | ' + ' | '.join(
        f'{entry["test"][s]["metrics"]["crack_iou"]:.2f}'
        if s in entry.get('test', {}) else 'not evaluated'
        for s in test_sets) + f' | {entry["superseded_because"]} |'
        for name, entry in old.items()]
    if not rows:
        return []
    return ['### Superseded runs (crack IoU)', '',
            '| run | ' + ' | '.join(test_sets) + ' | why |',
            '|---|' + '---|' * (len(test_sets) + 1), *rows, '']


def write_plot(results, entries, arms, test_sets):
    """DeepCrack against mean crack-set crack IoU, one point per arm: all
    runs on the left, the DeepCrack-trained ones zoomed on the right.
    Runs trained on the crack sets (hollow squares) sit at zero-shot on
    the x axis and in-domain on the y axis; DeepCrack-trained ones the
    other way round. A legend names the points, as their labels would
    overlap."""
    points = []
    for arm in dict.fromkeys(a for a, _ in entries.values()):
        stats = columns(results, entries, arm, test_sets, 'crack_iou')
        if stats[0] is not None and stats[-1] is not None:
            points.append((arm, stats[0], stats[-1]))
    if not points:
        return False
    fig, ((ax_all, ax_zoom), ) = plots.panels(1, 2, width=6, height=5.5)
    colours = plots.series_colours([arm for arm, _, _ in points])
    markers = 'o^vDPX*<>hp'
    for index, (arm, (x, x_sd, _), (y, y_sd, _)) in enumerate(points):
        sources = arms[arm][2] == 'crack_sets'
        style = dict(fmt='s' if sources else markers[index % len(markers)],
                     color=colours[arm], capsize=3,
                     mfc='none' if sources else None, label=arm)
        for ax in (ax_all, ) if sources else (ax_all, ax_zoom):
            ax.errorbar(x, y, xerr=x_sd or None, yerr=y_sd or None,
                        **style)
    for ax in (ax_all, ax_zoom):
        ax.set_xlabel('DeepCrack test crack IoU (%)')
        ax.grid(alpha=0.3)
    ax_all.set_ylabel(
        f'mean crack IoU, {len(test_sets) - 1} crack sets (%)')
    ax_all.set_title('all runs; squares: trained on the crack sets',
                     fontsize=9)
    ax_zoom.set_title('trained on DeepCrack (crack sets cross-domain); '
                      'bars: 1 sd over seeds', fontsize=9)
    ax_all.legend(fontsize=7, loc='lower left')
    plots.save(fig, PLOT, dpi=120)
    return True
