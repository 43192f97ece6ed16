"""Tables and plot of the crack-transfer benchmark (its ``report`` stage).

Seeded arms are summarised as mean +- sample standard deviation over their
seeds; a difference between two arms counts as real only where it exceeds
the sum of their two spreads (their mean +- sd intervals do not overlap).
"""
import os.path as osp
import statistics

import deepcrack_cpu as dc

PLOT = osp.join(dc.REPO, 'benchmarks', 'results', 'crack_transfer_cpu.png')
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
    ('segformer_ft', 'segformer_scratch', 'crack-set pre-training of the '
     'baseline'),
    ('crackdino', 'segformer_ft', 'full method against the baseline, both '
     'from crack-set pre-training'),
)


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


def write(results, entries, arms, test_sets):
    arm_order = list(dict.fromkeys(a for a, _ in entries.values()))
    header = ['arm', 'what'] + list(test_sets) + ['crack-set mean']
    lines = [
        '## Does distillation transfer? Crack-set teachers, DeepCrack '
        'students', '',
        'Written by `python benchmarks/crack_transfer_cpu.py report` from '
        '`benchmarks/results/crack_transfer_cpu.json`, where each figure '
        'sits next to the exact command and commit that produced it.', '',
        'Teachers and the SegFormer pre-training see only the training '
        'splits of Crack500, GAPs384, ShadowCrack and AigleRN-TRIMM (6,770 '
        'crops; `tools/dataset_converters/lmm_crack_sets.py`), never a '
        'DeepCrack image: their DeepCrack column is zero-shot transfer. '
        'Students start from the base teacher\'s backbone and are '
        'fine-tuned on the 300 DeepCrack training images only; their '
        'crack-set columns are cross-domain (the students never trained on '
        'those sets, their teachers trained on the training splits; for the '
        'teachers and the pre-training those columns are in-domain). One '
        'budget for every run: 1000 iterations, batch 8, 224x224 crops, '
        'AdamW 5e-4, warm-up + cosine. Evaluation: `tools/test.py` on each '
        'test split at its own size, 224x224 windows, threshold 0.5, '
        'dataset-level metrics (%). Cells: mean ± standard deviation '
        '(number of seeds); a difference is called real only where it '
        'exceeds the sum of the two spreads.', '']
    for metric, title in METRICS:
        lines += [f'### {title}', '',
                  '| ' + ' | '.join(header) + ' |',
                  '|' + '---|' * len(header)]
        for arm in arm_order:
            stats = columns(results, entries, arm, test_sets, metric)
            lines.append(f'| {arm} | {arms[arm][1]} | ' +
                         ' | '.join(cell(s) for s in stats) + ' |')
        lines.append('')
    for metric, title in METRICS[::2]:
        lines += [f'### Contrasts, {title}', '',
                  '| contrast | what it measures | ' +
                  ' | '.join(header[2:]) + ' |',
                  '|---|---|' + '---|' * (len(header) - 2)]
        for arm, other, what in CONTRASTS:
            stats = columns(results, entries, arm, test_sets, metric)
            base = columns(results, entries, other, test_sets, metric)
            lines.append(f'| {arm} − {other} | {what} | ' + ' | '.join(
                verdict(a, b) for a, b in zip(stats, base)) + ' |')
        lines.append('')
    lines += agreement_lines(results, entries, arm_order, test_sets)
    lines += probe_lines(results, entries, arm_order, test_sets[1:])
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
        trace = results.get(name, {}).get('train', {}).get('trace', {})
        if not trace:
            continue
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
    for name in entries:
        entry = results.get(name, {})
        if 'train' in entry:
            run = entry['train']
            lines.append(f'- `{name}` train (commit {run["commit"]}, '
                         f'{run["date"]}, {run["wall_seconds"]:.0f} s): '
                         f'`{run["command"]}`')
        for test_set, run in entry.get('test', {}).items():
            lines.append(f'- `{name}` test on {test_set} (commit '
                         f'{run["commit"]}): `{run["command"]}`')
    dc.write_section(dc.REPORT, SECTION, lines)
    print(f'wrote {dc.REPORT}')


def agreement_lines(results, entries, arm_order, test_sets):
    """Linear CKA of each student arm with each teacher, per layer pair,
    on DeepCrack and averaged over the crack sets (mean ± sd over seeds)."""
    import crack_transfer_analysis as analysis
    pairs = [(teacher, index, layer) for teacher, _, _, layers in
             analysis.TEACHERS for index, layer in enumerate(layers)]
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
        if rows:
            lines += [f'{where}:', '', '| arm | ' + ' | '.join(header) + ' |',
                      '|---|' + '---|' * len(header), *rows, '']
    if not lines:
        return []
    return ['### Feature agreement with the teachers', '',
            'Linear CKA between the student backbone\'s block 3 / 7 / 11 '
            'maps and the paired teacher maps on 32 held-out test images per '
            'set (1 = the same representation up to rotation and scale), '
            'mean ± sd over seeds. Every student starts at 1 with '
            '`teacher_base`.', '', *lines]


def probe_lines(results, entries, arm_order, crack_sets):
    """Crack IoU of the frozen-backbone probes, per arm over the probed
    seeds, beside the same seeds' own heads on the same sets."""
    rows = []
    for arm in arm_order:
        names = [name for name, (a, _) in entries.items() if a == arm and
                 all(s in results.get(name, {}).get('probe_test', {})
                     for s in crack_sets)]
        if not names:
            continue

        def values(key, test_set, names=names):
            return [results[n][key][test_set]['metrics']['crack_iou']
                    for n in names]

        cells = [cell(summary(values('probe_test', s))) for s in crack_sets]
        probe_mean = [statistics.mean(v) for v in zip(
            *(values('probe_test', s) for s in crack_sets))]
        own_mean = [statistics.mean(v) for v in zip(
            *(values('test', s) for s in crack_sets))]
        rows.append(f'| {arm} | ' + ' | '.join(cells) + ' | ' +
                    cell(summary(probe_mean)) + ' | ' +
                    cell(summary(own_mean)) + ' |')
    if not rows:
        return []
    return ['### Frozen-backbone probe on the crack sets (crack IoU)', '',
            'What a trained backbone still knows of the crack sets: frozen, '
            'with a fresh plain decoder trained on their training splits for '
            '300 iterations (`python benchmarks/crack_transfer_cpu.py probe`),'
            ' tested on their test splits. The last column is the same '
            'seeds\' own model (DeepCrack-trained head) on the same sets.',
            '', '| backbone of | ' + ' | '.join(crack_sets) +
            ' | crack-set mean | own head, crack-set mean |',
            '|---|' + '---|' * (len(crack_sets) + 2), *rows, '']


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
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    points = []
    for arm in dict.fromkeys(a for a, _ in entries.values()):
        stats = columns(results, entries, arm, test_sets, 'crack_iou')
        if stats[0] is not None and stats[-1] is not None:
            points.append((arm, stats[0], stats[-1]))
    if not points:
        return False
    fig, (ax_all, ax_zoom) = plt.subplots(1, 2, figsize=(12, 5.5))
    colours = plt.get_cmap('tab20').colors
    markers = 'o^vDPX*<>hp'
    for index, (arm, (x, x_sd, _), (y, y_sd, _)) in enumerate(points):
        sources = arms[arm][2] == 'crack_sets'
        style = dict(fmt='s' if sources else markers[index % len(markers)],
                     color=colours[index % len(colours)], capsize=3,
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
    fig.tight_layout()
    fig.savefig(PLOT, dpi=120)
    plt.close(fig)
    return True
