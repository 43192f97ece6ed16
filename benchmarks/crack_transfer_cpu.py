"""CPU-scale test of what dual-teacher distillation transfers.

"Foundation" teachers are trained on four public crack sets (no DeepCrack
image) and evaluated zero-shot on DeepCrack; students start from the base
teacher's backbone and are fine-tuned on the 300 DeepCrack training images
only, with and without distillation, over several seeds; the strongest MMSeg
baseline of the DeepCrack-only benchmark (SegFormer MiT-B0) is trained from
scratch on DeepCrack and pre-trained on the crack sets then fine-tuned.
Every model is evaluated in-domain (DeepCrack test) and cross-domain (the
crack sets' test splits, which the students never trained on).

    python tools/dataset_converters/lmm_crack_sets.py --source LMM_CHECKOUT
    python benchmarks/crack_transfer_cpu.py run [--only NAME ...]  # (or train)
    python benchmarks/crack_transfer_cpu.py probe [--only NAME ...]
    python benchmarks/crack_transfer_cpu.py measure  # step-0 figures
    python benchmarks/crack_transfer_cpu.py report   # RESULTS + plot

``run`` (formerly ``train``, still accepted) trains and evaluates every
entry. After its evaluations, each student's features are compared with
both teachers' (linear CKA on held-out test images,
``harness/transfer_analysis.py``).
``probe`` then measures what a trained backbone still knows of the crack
sets: frozen, with a fresh head trained on their training splits for
300 iterations, it is tested on their test splits (the base teacher's
backbone, every student's starting point, is probed alike).
``measure`` records what a student sees at its first step (loss forms,
the teachers' CKA, gradient ratios on the kept weights). The mechanism
test (``scratch_*`` entries) starts students from random weights, so that
only distillation can carry the teachers' knowledge, and reads it with
the probe against its floor (``random_backbone``) and ceiling (the base
teacher), two probe seeds each.
The backbones other arms start from (the two teachers, the SegFormer
pre-training) are kept in ``benchmarks/results/crack_transfer_weights/``
so that every arm uses the same ones, whatever sitting it runs in.
Runs and evaluations are recorded one by one in
``benchmarks/results/crack_transfer_cpu.json`` (exact command, commit, wall
time, peak memory, metrics) and skipped when recorded, so the benchmark
resumes where it stopped. Two sittings may train different entries at
once with ``--threads 1`` each (one per core): the records are merged under
a lock, and only the recorded wall times then include the sharing.
"""
import argparse
import functools
import json
import os
import os.path as osp

import torch

from crackdino_mm.utils import save_atomically
from harness import (blocks, commands, grad_ratio, records, report,
                     transfer_analysis, transfer_report)
from harness import front_page  # noqa: F401  registers the README's blocks

REPO = records.REPO
RESULTS = records.results_path('crack_transfer_cpu.json')
MAX_ITERS = 1000
WORK_DIR = 'work_dirs/crack_transfer'
CRACK_SETS = ('Crack500', 'GAPs384', 'ShadowCrack', 'AigleRN-TRIMM')
TEST_SETS = ('DeepCrack', ) + CRACK_SETS
BUILD_COMMAND = ('python tools/dataset_converters/lmm_crack_sets.py '
                 '--source <checkout of Omaralmaqtari/Lightweight-Modular-'
                 'Model> --out data/crack_sets')
SEEDS = (0, 1, 2)


UNLABELLED = 'deepcrack-crack-sets-unlabelled'


def _config(name, data='deepcrack'):
    return f'configs/cpu_benchmark/{name}_1k_{data}-224x224.py'


# arm -> (config, description, trained on, needs). "needs" are entries
# whose final checkpoints the arm starts from or distils.
ARMS = {
    'teacher_base': (_config('teacher-b_vit-w192d12', 'crack-sets'),
                     '"base" teacher, ViT-192/12, crack sets', 'crack_sets',
                     ()),
    'teacher_large': (_config('teacher-l_vit-w192d24', 'crack-sets'),
                      '"large" teacher, ViT-192/24, crack sets',
                      'crack_sets', ()),
    'student_plain': (_config('crackdino-student-plainhead_vit-w192d12'),
                      'student, plain decoder', 'deepcrack',
                      ('teacher_base', )),
    'student_lipschitz': (_config('crackdino-student-lipschitz_vit-w192d12'),
                          'student + Lipschitz head', 'deepcrack',
                          ('teacher_base', )),
    'distill_plain': (_config('crackdino-distill-plainhead_vit-w192d12'),
                      'student + dual-teacher distillation, plain decoder',
                      'deepcrack', ('teacher_base', 'teacher_large')),
    'crackdino': (_config('crackdino_vit-w192d12'),
                  'full method: distillation + Lipschitz head', 'deepcrack',
                  ('teacher_base', 'teacher_large')),
    'crackdino_cosine': (_config('crackdino-cosine_vit-w192d12'),
                         'full method, cosine distillation', 'deepcrack',
                         ('teacher_base', 'teacher_large')),
    'crackdino_mse': (_config('crackdino-mse_vit-w192d12'),
                      'full method, MSE distillation', 'deepcrack',
                      ('teacher_base', 'teacher_large')),
    # Diagnostic, not an arm of the method: can a strong distillation
    # hold the teachers' knowledge at all?
    'distill_plain_x10': (_config('crackdino-distill-plainhead-x10_'
                                  'vit-w192d12'),
                          'diagnostic: distill_plain, distillation weight '
                          'x10', 'deepcrack',
                          ('teacher_base', 'teacher_large')),
    # Diagnostic: at full size the large teacher is wider than the student
    # and gets a learned projection; at equal width CAFM would use identity.
    'crackdino_learnedproj': (_config('crackdino-learnedproj-l_vit-w192d12'),
                              'diagnostic: full method, learned projection '
                              'to the large teacher', 'deepcrack',
                              ('teacher_base', 'teacher_large')),
    # Loss-form variant: channel KL of the raw centred maps (to be run).
    'crackdino_rawkl': (_config('crackdino-rawkl_vit-w192d12'),
                        'full method, channel KL without normalisation',
                        'deepcrack', ('teacher_base', 'teacher_large')),
    # Mechanism test: random-init students, so that only the distillation
    # loss can carry the teachers' crack-set knowledge (to be run).
    'scratch_student': (_config('crackdino-student-learnedproj-scratch_'
                                'vit-w192d12'),
                        'random-init student, segmentation only',
                        'deepcrack', ()),
    'scratch_distill': (_config('crackdino-learnedproj-l-scratch_'
                                'vit-w192d12'),
                        'random-init student, full method with a learned '
                        'projection (seg_weight 1)', 'deepcrack',
                        ('teacher_base', 'teacher_large')),
    # Fallback of the mechanism test: the same pair with the crack sets'
    # training images, unlabelled, mixed into the DeepCrack data.
    'unlab_student': (_config('crackdino-student-learnedproj-scratch_'
                              'vit-w192d12', UNLABELLED),
                      'random-init student, segmentation only, DeepCrack + '
                      'unlabelled crack-set images', 'deepcrack+unlabelled',
                      ()),
    'unlab_distill': (_config('crackdino-learnedproj-l-scratch_vit-w192d12',
                              UNLABELLED),
                      'random-init student, full method, DeepCrack + '
                      'unlabelled crack-set images', 'deepcrack+unlabelled',
                      ('teacher_base', 'teacher_large')),
    # Not trained: the probe's floor, a random ViT-192/12 backbone.
    'random_backbone': ('configs/cpu_benchmark/probe_vit-w192d12-'
                        'frozen_300it_crack-sets-224x224.py',
                        'random ViT-192/12 backbone (probe floor)', 'none',
                        ()),
    'segformer_pre': (_config('segformer_mit-b0', 'crack-sets'),
                      'SegFormer MiT-B0, crack sets', 'crack_sets', ()),
    'segformer_ft': (_config('segformer_mit-b0-crack-sets-pre'),
                     'SegFormer MiT-B0, crack sets then DeepCrack',
                     'deepcrack', ('segformer_pre', )),
    'segformer_scratch': (_config('segformer_mit-b0'),
                          'SegFormer MiT-B0, DeepCrack only', 'deepcrack',
                          ()),
}
SEEDED = ('student_plain', 'student_lipschitz', 'distill_plain', 'crackdino',
          'segformer_ft', 'segformer_scratch')
#: Arms whose student starts from random weights (the teachers they
#: distil are still the kept ones).
SCRATCH = ('scratch_student', 'scratch_distill', 'unlab_student',
           'unlab_distill')
#: arm -> (partner, model keys in which the two may differ): the
#: distiller's own keys (teachers, loss, weights) after
#: ``DualTeacherDistiller.student_config``, plus what the name declares.
DISTILLER_KEYS = ('center_momentum', 'distill_loss', 'distill_weight',
                  'seg_weight', 'teachers')
PARTNERS = {
    'distill_plain': ('student_plain', DISTILLER_KEYS + (
        'backbone.out_indices', 'neck.num_inputs')),
    'crackdino': ('student_lipschitz', DISTILLER_KEYS + (
        'backbone.out_indices', 'neck.num_inputs')),
    'student_lipschitz': ('student_plain', (
        'decode_head.spectral_norm', 'decode_head.gp_weight')),
    'crackdino_cosine': ('crackdino', ('distill_loss', )),
    'crackdino_mse': ('crackdino', ('distill_loss', )),
    'crackdino_rawkl': ('crackdino', ('distill_loss', )),
    'distill_plain_x10': ('distill_plain', ('distill_loss', )),
    'crackdino_learnedproj': ('crackdino', ('neck.learned_branches', )),
    'scratch_distill': ('scratch_student', DISTILLER_KEYS),
    'unlab_distill': ('unlab_student', DISTILLER_KEYS),
}


def entries():
    """Entry name -> (arm, seed), in the order they are run: teachers and
    pre-training first, then one seed of every arm before the next seed,
    then the single-seed loss variants and the diagnostics."""
    order = [('teacher_base', 0), ('teacher_large', 0), ('segformer_pre', 0)]
    order += [(arm, seed) for seed in SEEDS for arm in SEEDED]
    order += [('crackdino_cosine', 0), ('crackdino_mse', 0),
              ('distill_plain_x10', 0), ('crackdino_learnedproj', 0),
              ('crackdino_rawkl', 0)]
    order += [('random_backbone', 0)]
    order += [(arm, seed) for pair in (SCRATCH[:2], SCRATCH[2:])
              for seed in SEEDS for arm in pair]
    return {entry_name(arm, seed): (arm, seed) for arm, seed in order}


def entry_name(arm, seed):
    return f'{arm}_s{seed}' if arm in SEEDED + SCRATCH else arm


#: Backbones the other arms start from or distil, kept in the repository
#: (float16, backbone weights only) so that every arm, in any sitting, uses
#: the very same teachers.
SOURCES = ('teacher_base', 'teacher_large', 'segformer_pre')
WEIGHTS_DIR = 'benchmarks/results/crack_transfer_weights'


def checkpoint(work_dir, name):
    return osp.join(work_dir, name, f'iter_{MAX_ITERS}.pth')


def source_weights(name):
    return osp.join(WEIGHTS_DIR, f'{name}.pth')


def export_source(name, work_dir):
    """Keep a source's backbone (float16) from its final checkpoint."""
    state = torch.load(osp.join(REPO, checkpoint(work_dir, name)),
                       map_location='cpu', weights_only=False)['state_dict']
    backbone = {k: v.half() if v.is_floating_point() else v
                for k, v in state.items() if k.startswith('backbone.')}
    save_atomically(dict(state_dict=backbone),
                            osp.join(REPO, source_weights(name)))


def model_options(arm):
    """cfg-options pointing an arm at the backbones it starts from."""
    needs = ARMS[arm][3]
    options = []
    if 'teacher_base' in needs and arm not in SCRATCH:
        options.append('model.backbone.init_cfg.checkpoint=' +
                       source_weights('teacher_base'))
    if 'teacher_large' in needs:
        for teacher in ('teacher_large', 'teacher_base'):
            options.append(f'model.teachers.{teacher}.backbone.init_cfg.'
                           f'checkpoint={source_weights(teacher)}')
    if 'segformer_pre' in needs:
        options.append('model.backbone.init_cfg.checkpoint=' +
                       source_weights('segformer_pre'))
    return options


def train_command(name, args):
    arm, seed = entries()[name]
    config, _, data, _ = ARMS[arm]
    options = [f'randomness.seed={seed}']
    # Validation and testing are DeepCrack's in every config.
    options += commands.data_root_options(
        args.data_root, ('val_dataloader', 'test_dataloader'))
    if data == 'deepcrack':
        options.append(f'train_dataloader.dataset.data_root={args.data_root}')
    elif data == 'deepcrack+unlabelled':
        # datasets.0: DeepCrack (repeated); datasets.1: the crack sets.
        options.append('train_dataloader.dataset.datasets.0.dataset.'
                       f'data_root={args.data_root}')
        options += [
            f'train_dataloader.dataset.datasets.1.datasets.{i}.data_root='
            f'{osp.join(args.crack_sets_root, s)}'
            for i, s in enumerate(CRACK_SETS)
        ]
    else:
        options += [
            f'train_dataloader.dataset.datasets.{i}.data_root='
            f'{osp.join(args.crack_sets_root, s)}'
            for i, s in enumerate(CRACK_SETS)
        ]
    options += model_options(arm)
    # A checkpoint every 100 iterations (only the newest kept), so that a
    # run cut short resumes instead of starting again.
    options.append('default_hooks.checkpoint.interval=100')
    work_dir = osp.join(args.work_dir, name)
    return commands.train_command(config, work_dir, options,
                                  commands.resume_flag(work_dir))


def test_root(test_set, args):
    if test_set == 'DeepCrack':
        return args.data_root
    return osp.join(args.crack_sets_root, test_set)


def test_command(name, test_set, args):
    """tools/test.py on one test set: only its data_root is set, as
    anyone evaluates an arm on another crack set."""
    arm, _ = entries()[name]
    return commands.test_command(
        ARMS[arm][0], checkpoint(args.work_dir, name),
        osp.join(args.work_dir, name, f'test_{test_set}'),
        commands.data_root_options(test_root(test_set, args),
                                   ('test_dataloader', )))


def check_data(args):
    """Clear errors for data that is missing or not built yet."""
    if not osp.isdir(osp.join(REPO, args.data_root, 'train_img')):
        raise SystemExit(f'DeepCrack not found at {args.data_root} '
                         '(train_img/, train_lab/, test_img/, test_lab/); '
                         'give --data-root')
    missing = [s for s in CRACK_SETS if not osp.isdir(
        osp.join(REPO, args.crack_sets_root, s, 'train_img'))]
    if missing:
        raise SystemExit(f'crack sets {missing} are not built under '
                         f'{args.crack_sets_root}; build them with:\n  '
                         f'{BUILD_COMMAND}')


TRACED = ('distill_grad_ratio', 'decode.gp_grad_norm', 'loss_distill_t0',
          'loss_distill_t1')


def read_trace(run_dir):
    """First and last logged value of the distillation and penalty
    scalars of one training run (absent ones left out)."""
    path = commands.latest_run(run_dir, osp.join('vis_data', 'scalars.json'))
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    trace = {}
    for key in TRACED:
        values = [r[key] for r in records if key in r]
        if values:
            trace[key] = dict(first=values[0], last=values[-1])
    return trace


def evaluate(name, key, test_sets, command, args):
    """Run ``command(name, test_set, args)`` (a tools/test.py command) on
    every test set not yet recorded under ``key``, recording each."""
    for test_set in test_sets:
        if test_set in records.load(RESULTS)[name].get(
                key, {}) and not args.force:
            continue
        cmd = command(name, test_set, args)
        run = commands.run_tool(name, cmd)
        metrics = commands.read_test_metrics(
            osp.join(REPO, cmd[cmd.index('--work-dir') + 1]))
        records.record(RESULTS, name, **{key: {test_set: dict(run, metrics=metrics)}})
        print(f'{name} {key} on {test_set}: crack IoU '
              f'{metrics["crack_iou"]:.2f}, F1 {metrics["crack_f1"]:.2f},'
              f' ODS {metrics["ods"]:.2f}', flush=True)


def cmd_train(args):
    check_data(args)
    if args.threads:
        # One intra-op thread keeps a run from thrashing when other work
        # shares the cores (two threads then ran up to 10x slower).
        os.environ['OMP_NUM_THREADS'] = str(args.threads)
    known = {n: v for n, v in entries().items()
             if ARMS[v[0]][2] != 'none'}
    names = args.only or list(known)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f'unknown entries {unknown}; trained entries: '
                         f'{list(known)}')
    for name in names:
        arm, seed = known[name]
        recorded = records.load(RESULTS).get(name, {})
        if 'train' not in recorded or args.force:
            missing = [n for n in ARMS[arm][3]
                       if not osp.isfile(osp.join(REPO, source_weights(n)))]
            if missing:
                raise SystemExit(f'{name} needs {missing} trained first')
            run = commands.run_tool(name, train_command(name, args))
            records.record(RESULTS, name, train=dict(
                run, arm=arm, seed=seed, config=ARMS[arm][0],
                threads=os.environ.get('OMP_NUM_THREADS'),
                resumed='--resume' in run['command'].split(),
                **commands.read_scalars(osp.join(REPO, args.work_dir, name)),
                trace=read_trace(osp.join(REPO, args.work_dir, name))),
                test={})
        if not osp.isfile(osp.join(REPO, checkpoint(args.work_dir, name))):
            raise SystemExit(f'{name} is recorded as trained but its '
                             'checkpoint is missing; rerun it with --force')
        if name in SOURCES and not osp.isfile(
                osp.join(REPO, source_weights(name))):
            export_source(name, args.work_dir)
        evaluate(name, 'test', TEST_SETS, test_command, args)
        if is_student(arm) and ('analysis' not in records.load(
                RESULTS)[name] or args.force):
            analyse(name, args)


PROBE_CONFIG = ('configs/cpu_benchmark/probe_vit-w192d12-frozen_'
                '300it_crack-sets-224x224.py')
PROBE_ITERS = 300
PROBE_SEEDS = (0, 1)


def probed(name):
    """Entries whose backbone is probed: the base teacher (the students'
    starting point, the probe's ceiling), a random backbone (its floor)
    and every student."""
    arm = entries()[name][0]
    return arm in ('teacher_base', 'random_backbone') or is_student(arm)


def probe_seeds(name):
    """Probe seeds of an entry: several for the mechanism test (its arms,
    floor and ceiling), one for the entries recorded before it."""
    arm = entries()[name][0]
    return PROBE_SEEDS if arm in SCRATCH + (
        'teacher_base', 'random_backbone') else PROBE_SEEDS[:1]


def probe_key(key, seed):
    """Record key (and work-dir name) of a probe seed: seed 0 keeps the
    names recorded before there were several."""
    return key if seed == 0 else f'{key}_s{seed}'


def probe_command(name, args, seed=0):
    """Train the frozen-backbone probe on the crack sets, its backbone
    taken from the entry (the base teacher's kept weights, random weights
    for the floor, else the entry's final checkpoint)."""
    options = [f'randomness.seed={seed}']
    if entries()[name][0] == 'random_backbone':
        options.append('model.backbone.init_cfg=None')
    else:
        source = source_weights(name) if name in SOURCES else checkpoint(
            args.work_dir, name)
        options.append(f'model.backbone.init_cfg.checkpoint={source}')
    # The runner builds the (unused) DeepCrack validation loader too.
    options += commands.data_root_options(
        args.data_root, ('val_dataloader', 'test_dataloader'))
    options += [f'train_dataloader.dataset.datasets.{i}.data_root='
                f'{osp.join(args.crack_sets_root, s)}'
                for i, s in enumerate(CRACK_SETS)]
    return commands.train_command(
        PROBE_CONFIG, osp.join(args.work_dir, name, probe_key('probe', seed)),
        options)


def probe_test_command(name, test_set, args, seed=0):
    probe_dir = osp.join(args.work_dir, name, probe_key('probe', seed))
    return commands.test_command(
        PROBE_CONFIG, osp.join(probe_dir, f'iter_{PROBE_ITERS}.pth'),
        osp.join(probe_dir, f'test_{test_set}'),
        commands.data_root_options(test_root(test_set, args),
                                   ('test_dataloader', )))


def cmd_probe(args):
    if set(args.probe_seeds or ()) - set(PROBE_SEEDS):
        raise SystemExit(f'--probe-seeds {args.probe_seeds}: the probe '
                         f'seeds are {list(PROBE_SEEDS)}')
    check_data(args)
    if args.threads:
        os.environ['OMP_NUM_THREADS'] = str(args.threads)
    names = args.only or [n for n in entries() if probed(n)]
    wrong = [n for n in names if n not in entries() or not probed(n)]
    if wrong:
        raise SystemExit(f'{wrong} cannot be probed; probed entries: '
                         f'{[n for n in entries() if probed(n)]}')
    for name in names:
        untrained = entries()[name][0] == 'random_backbone'
        if 'train' not in records.load(RESULTS).get(name, {}) \
                and not untrained:
            raise SystemExit(f'{name} is not trained yet: run train --only '
                             f'{name} first')
        for seed in probe_seeds(name):
            if args.probe_seeds is not None and seed not in args.probe_seeds:
                continue
            probe, test = probe_key('probe', seed), probe_key('probe_test',
                                                              seed)
            if probe not in records.load(RESULTS).get(name, {}) \
                    or args.force:
                if name not in SOURCES and not untrained and \
                        not osp.isfile(osp.join(
                            REPO, checkpoint(args.work_dir, name))):
                    raise SystemExit(
                        f'the checkpoint of {name} is missing (work_dirs/ '
                        f'is not kept): retrain it with train --only {name}'
                        ' --force')
                run = commands.run_tool(name, probe_command(name, args, seed))
                records.record(RESULTS, name, **{probe: run, test: {}})
            evaluate(name, test, CRACK_SETS, functools.partial(
                probe_test_command, seed=seed), args)


#: Distillers whose step-0 gradient ratio ``measure`` records.
MEASURED_CONFIGS = ('distill_plain', 'crackdino', 'crackdino_learnedproj',
                    'crackdino_rawkl')


def cmd_measure(args):
    """Record, on the kept weights and DeepCrack images, what the student
    sees at step 0: the loss forms on its maps and the large teacher's,
    the teachers' CKA, and each teacher's gradient ratio per distiller."""
    check_data(args)
    found = transfer_analysis.step0_measurements(args.data_root,
                                                       source_weights)
    found['grad_ratio_step0'] = {}
    for arm in MEASURED_CONFIGS:
        # Every measured arm distils both teachers (large first).
        checkpoints = dict(
            student=None if arm in SCRATCH else source_weights(
                'teacher_base'),
            teachers=[source_weights(t) for t in ('teacher_large',
                                                  'teacher_base')])
        found['grad_ratio_step0'][arm] = grad_ratio.real_ratios(
            osp.join(REPO, ARMS[arm][0]), checkpoints,
            osp.join(REPO, args.data_root))
        print(arm, found['grad_ratio_step0'][arm], flush=True)
    records.record(RESULTS, 'measurements', step0=dict(found, commit=commands.git_commit()))
    print(json.dumps(found, indent=1))


def is_student(arm):
    """A DeepCrack-trained arm with the teachers' architecture."""
    return 'teacher_base' in ARMS[arm][3] or arm in SCRATCH


_analyser = []


def analyse(name, args):
    """Record the linear CKA of a trained student with both teachers."""
    if not _analyser:
        _analyser.append(transfer_analysis.Analyser(
            {s: test_root(s, args) for s in TEST_SETS}, source_weights))
    arm, _ = entries()[name]
    cka = _analyser[0](ARMS[arm][0], checkpoint(args.work_dir, name))
    records.record(RESULTS, name, analysis=dict(linear_cka=cka, commit=commands.git_commit()))
    print(f'{name}: linear CKA with the teachers {cka}', flush=True)


#: Arms of the docs' summary table, in its order.
SUMMARY_ARMS = ('teacher_base', 'teacher_large', 'segformer_pre',
                'student_plain', 'student_lipschitz', 'distill_plain',
                'crackdino', 'crackdino_cosine', 'crackdino_mse',
                'crackdino_rawkl', 'distill_plain_x10',
                'crackdino_learnedproj', 'segformer_ft', 'segformer_scratch')


@blocks.register('crack-transfer-summary', 'docs/results.md')
def summary_table():
    """Crack IoU / ODS of each arm on DeepCrack, Crack500 and the crack-set
    mean: mean ± sd (seeds), a single figure for one seed."""
    results, found = records.load(RESULTS), entries()
    lines = ['| arm | what | DeepCrack IoU | DeepCrack ODS | Crack500 IoU | '
             'crack-set mean IoU | crack-set mean ODS |',
             '|---|---|---|---|---|---|---|']
    for arm in SUMMARY_ARMS:
        cells = [transfer_report.summary(transfer_report.arm_values(
            results, found, arm, test_set, metric)) for test_set, metric in
            (('DeepCrack', 'crack_iou'), ('DeepCrack', 'ods'),
             ('Crack500', 'crack_iou'))]
        cells += [transfer_report.summary(transfer_report.cross_domain_values(
            results, found, arm, CRACK_SETS, metric))
            for metric in ('crack_iou', 'ods')]
        lines.append(f'| {arm} | {ARMS[arm][1]} | ' + ' | '.join(
            transfer_report.cell(c) for c in cells) + ' |')
    return '\n'.join(lines)


@blocks.register('mechanism-test', 'docs/results.md')
def mechanism_table():
    """Probe crack IoU of the random-init pair against its floor and
    ceiling: the gain of distillation and the share of the gap it closes."""
    results, found = records.load(RESULTS), entries()
    lines = ['| probe on | floor | ceiling | segmentation only | distilled | '
             'gain [95 % CI], p | fraction of the gap closed [95 % CI] | '
             'seed pairs |', '|---|---|---|---|---|---|---|---|']
    for label, test_set in (('Crack500', 'Crack500'),
                            ('crack-set mean', None)):
        (diff, low, high, p, _), pairs, alone, distilled, floor, ceiling = \
            transfer_report.gap_fraction(
                results, found, ('scratch_distill', 'scratch_student'),
                CRACK_SETS, test_set)
        gap = ceiling - floor
        lines.append(
            f'| {label} | {floor:.2f} | {ceiling:.2f} | {alone:.2f} | '
            f'{distilled:.2f} | {diff:+.2f} [{low:+.2f}, {high:+.2f}], '
            f'p = {p:.3f} | {diff / gap:.2f} [{low / gap:.2f}, '
            f'{high / gap:.2f}] | {pairs} |')
    return '\n'.join(lines)


@blocks.register('crack-transfer-verdict', 'docs/results.md')
def verdict_block():
    """The pooled distillation contrasts and SegFormer pre-trained on the
    crack sets against the full method, in one paragraph."""
    results, found = records.load(RESULTS), entries()
    both_heads = transfer_report.POOLED[0][1]
    deepcrack_iou, deepcrack_ods, cross_iou = (
        transfer_report.pooled_contrast(results, found, both_heads, test_set,
                                        metric)
        for test_set, metric in (('DeepCrack', 'crack_iou'),
                                 ('DeepCrack', 'ods'),
                                 (CRACK_SETS, 'crack_iou')))
    segformer = transfer_report.contrast(*(transfer_report.seed_values(
        results, found, arm, 'DeepCrack', 'crack_iou')
        for arm in ('segformer_ft', 'crackdino')))
    return '\n'.join(report.reflow([
        'Distillation against the same student without it, pooled over '
        'both heads (difference [95 % CI], p of the paired t-test over '
        f'seeds): DeepCrack crack IoU {deepcrack_iou}, ODS {deepcrack_ods}; '
        f'crack-set mean crack IoU {cross_iou}. SegFormer MiT-B0 pre-trained '
        'on the crack sets against the full method, DeepCrack crack IoU: '
        f'{segformer}.']))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument('stage', choices=['run', 'train', 'probe', 'measure',
                                          'report'])
    parser.add_argument('--only', nargs='+', metavar='NAME',
                        help=f'entries to run (default all): '
                        f'{list(entries())}')
    parser.add_argument('--force', action='store_true',
                        help='rerun entries that are recorded already')
    parser.add_argument('--data-root',
                        default=records.default_data_root())
    parser.add_argument('--crack-sets-root', default='data/crack_sets')
    parser.add_argument('--work-dir', default=WORK_DIR)
    parser.add_argument('--probe-seeds', nargs='+', type=int,
                        metavar='SEED',
                        help='probe only these of each entry\'s probe seeds '
                        f'{PROBE_SEEDS} (two sittings may split them)')
    parser.add_argument('--threads', type=int,
                        help='intra-op threads of each run (OMP_NUM_THREADS)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.stage in ('run', 'train'):
        cmd_train(args)
    elif args.stage == 'probe':
        cmd_probe(args)
    elif args.stage == 'measure':
        cmd_measure(args)
    else:
        transfer_report.write(records.load(RESULTS), entries(), ARMS,
                              TEST_SETS, PARTNERS)
        blocks.write()


if __name__ == '__main__':
    main()
