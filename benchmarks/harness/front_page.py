"""The README's generated blocks (model zoo, results at a glance) and the
cost table of ``benchmarks/README.md``: each reads several studies'
records, so it lives here and not in one study."""
import re

from harness import records, report, site_stats, transfer_report
from harness.blocks import register

DEEPCRACK = records.results_path('deepcrack_cpu.json')
TRANSFER = records.results_path('crack_transfer_cpu.json')
TTA = records.results_path('tta_cpu.json')
READY = records.results_path('ready_model_cpu.json')
SITE_ADAPTATION = records.results_path('site_adaptation_cpu.json')
#: The site-level contrasts of which model is the better start.
STARTS = ('SegFormer vs full method, fine-tuned, k=10',
          'full method vs student alone as a start, fine-tuned, k=10')
#: What distillation on unlabelled site photos adds to fine-tuning.
TEACHERS = 'teachers vs fine-tuning, k=10 (full method)'
#: The model zoo: config, what it is, DeepCrack-CPU entry measured (or
#: where its figures come from; None: not trained here), where its weights
#: come from, its card.
ZOO = (
    ('configs/crackdino_deepcrack.py', 'the full method: DINOv2-B student, '
     'DINOv2-L + DINOv2-B teachers, CAFM, Lipschitz head, 448 crops', None,
     'train it from the DINOv2 checkpoints', 'configs'),
    ('configs/crackdino-distilled-student_dinov2-b_2k_deepcrack-448x448.py',
     'its student alone, for deployment', None,
     '`tools/export_student.py`', 'configs'),
    ('configs/ablations/', 'student only, + Lipschitz head, + dual '
     'teachers, full', None, 'train them', 'configs/ablations'),
    ('configs/baselines/', "MMSeg's UNet, DeepLabV3+ R-50, SegFormer "
     'MiT-B0, DINOv2-B + UPerHead', None, 'train them', 'configs/baselines'),
    ('configs/cpu_benchmark/segformer_mit-b0_1k_deepcrack-224x224.py',
     'the ready CPU model: SegFormer MiT-B0 from scratch, 224 crops',
     'ready', '`benchmarks/results/site_adaptation_weights/'
     'segformer.pth` (its site-adaptation run, 270 images)',
     'configs/cpu_benchmark'),
    ('configs/cpu_benchmark/crackdino_vit-w192d12_1k_deepcrack-224x224.py',
     'the full method at CPU scale (ViT-192/12 student, from-scratch '
     'teachers)', 'crackdino', '`benchmarks/results/site_adaptation_weights/'
     'crackdino.pth` (its site-adaptation run)', 'configs/cpu_benchmark'),
    ('configs/cpu_benchmark/crackdino-student-plainhead_vit-w192d12_1k_'
     'deepcrack-224x224.py', 'the student alone at CPU scale',
     'student_plain', '`benchmarks/results/site_adaptation_weights/'
     'student_plain.pth` (its site-adaptation run)', 'configs/cpu_benchmark'),
    ('configs/demo/crackdino-student_vit-t4_synthetic-224x224.py',
     "the demo's student, synthetic cracks", 'synthetic test, printed by '
     '`make demo`', '`make demo`', 'configs/demo'),
)
#: The distillation contrast pooled over both heads.
DISTILLATION = (('distill_plain', 'student_plain'),
                ('crackdino', 'student_lipschitz'))


def measured(deepcrack, entry):
    """The model-zoo cell of an entry's DeepCrack test figures: the ready
    model's own weights, or the DeepCrack-CPU run of the same config."""
    if entry == 'ready':
        metrics = records.load(READY)['deepcrack_test']['metrics']
        source = 'these weights'
    elif entry in deepcrack:
        metrics = deepcrack[entry]['test']['metrics']
        source = 'the config trained on all 300 images'
    else:
        return entry or 'not trained here'
    return (f'crack IoU {metrics["crack_iou"]:.2f}, ODS {metrics["ods"]:.2f} '
            f'({source})')


@register('readme-model-zoo', 'README.md')
def model_zoo():
    deepcrack = records.load(DEEPCRACK)
    lines = ['| config | what it is | measured (DeepCrack test, %) | '
             'weights | card |', '|---|---|---|---|---|']
    lines += [f'| `{config}` | {what} | {measured(deepcrack, entry)} | '
              f'{weights} | [{card.split("/")[-1]}]({card}/README.md) |'
              for config, what, entry, weights, card in ZOO]
    return '\n'.join(lines)


def transfer_entries(results):
    """Entry name -> (arm, seed) of the crack-transfer record, read from
    the names (``ARM_sSEED``; unseeded entries are seed 0)."""
    found = {}
    for name in results:
        match = re.fullmatch(r'(.+)_s(\d+)', name)
        found[name] = (match[1], int(match[2])) if match else (name, 0)
    return found


def glance_transfer():
    """The distillation bullet: pooled contrasts and the probe gain."""
    results = records.load(TRANSFER)
    entries = transfer_entries(results)
    crack_sets = tuple(s for s in results['teacher_base']['test']
                       if s != 'DeepCrack')
    (deepcrack, kind), (cross, _) = (transfer_report.split_kind(
        transfer_report.pooled_contrast(results, entries, DISTILLATION,
                                        test_set, 'crack_iou'))
        for test_set in ('DeepCrack', crack_sets))
    test, probe_pairs = transfer_report.gap_fraction(
        results, entries, ('scratch_distill', 'scratch_student'),
        crack_sets, 'Crack500')[:2]
    return (f'- **Distillation**, crack-set teachers into DeepCrack '
            f'students ({kind.split(", ")[-1]} seed pairs, paired t-test): '
            'DeepCrack crack IoU '
            f'{deepcrack.replace("[", "[95 % CI ")}; crack-set mean '
            f'{cross}. From random weights it carries the teachers\' '
            'knowledge into the frozen backbone (Crack500 probe '
            f'{test[0]:+.2f} [{test[1]:+.2f}, {test[2]:+.2f}], '
            f'p={test[3]:.3f}, {probe_pairs} seed pairs).')


def seed_counts(results, a, b):
    """How many training seeds each site has in both arms."""
    draws_a, draws_b = (site_stats.arm_draws(results, arm) for arm in (a, b))
    return [len({site_stats.seed_of(key)
                 for key in draws_a[site] if key in draws_b[site]})
            for site in draws_a if site in draws_b]


def contrast_words(results, rows, name):
    """A site-level contrast as the front page reads it: mean, 95 % CI, p
    (Holm), sites, and the training seeds each site has in both arms."""
    row = rows[name]
    counts = seed_counts(results, *{n: (a, b) for n, a, b in
                                    site_stats.HEADLINE}[name])
    seeds = str(max(counts)) if min(counts) == max(counts) else \
        f'{min(counts)} to {max(counts)}'
    return (f'{row["mean"]:+.1f} IoU [95 % CI {row["low"]:+.1f}, '
            f'{row["high"]:+.1f}], p={row["p"]:.3f} (Holm {row["p_holm"]:.2f}'
            f'), {row["n"]} sites, {seeds} training seed'
            f'{"s" * (seeds != "1")} a site')


def glance_starts():
    """The new-site bullet: which model is the better start to fine-tune,
    and what the teachers add on site photos, with the site as the unit
    and the sources' seeds inside each site."""
    results = records.load(SITE_ADAPTATION)
    rows = {row['name']: row for row in site_stats.reanalyse(
        results, skip_missing=True)}
    starts = [f'{name.split(",")[0].replace(" as a start", "")} '
              f'{contrast_words(results, rows, name)}' for name in STARTS]
    return ('- **A new site**: what each step of `tools/adapt.py` buys, by '
            'the number of labelled photos: [the table above](#a-new-site). '
            'Which model to start from, fine-tuned on 10 photos of the '
            'site: ' + '; '.join(starts) + ". The full method's teachers, "
            'distilling on unlabelled site photos while it fine-tunes on 10: '
            f'{contrast_words(results, rows, TEACHERS)}.')


@register('readme-at-a-glance', 'README.md')
def at_a_glance():
    deepcrack = {name: entry['test']['metrics']['crack_iou']
                 for name, entry in records.load(DEEPCRACK).items()}
    tta = records.load(TTA)
    times = tta['rot8']['seconds_per_image'] / tta['none'][
        'seconds_per_image']
    lines = [
        '- **DeepCrack, CPU scale, no pretrained weights** (one run each): '
        f"MMSeg's SegFormer MiT-B0 {deepcrack['segformer']:.2f} crack IoU, "
        f'the full method {deepcrack["crackdino"]:.2f}, the student alone '
        f'{deepcrack["student_plain"]:.2f}. Without DINOv2 weights the '
        "method's premise cannot be tested here.",
        glance_transfer(),
        glance_starts(),
        '- **Test-time augmentation**: 8 views, crack IoU '
        f'{tta["none"]["metrics"]["crack_iou"]:.2f} -> '
        f'{tta["rot8"]["metrics"]["crack_iou"]:.2f} for {times:.1f}x the '
        'time.']
    return '\n'.join(report.reflow(lines))


register('costs', 'benchmarks/README.md')(report.costs_table)
