"""The ready CPU model (``crackdino_mm.apis.READY_CPU_CONFIG`` and
``READY_CPU_CHECKPOINT``): what it scores and what it costs on 2 CPU
threads, and its model card, written from the results.

    python benchmarks/ready_model_cpu.py run [--data-root DIR]
    python benchmarks/ready_model_cpu.py report

``run`` runs, one at a time, each with ``OMP_NUM_THREADS=2``:
``tools/test.py`` on the 237 DeepCrack test images; ``tools/infer.py`` on
10 of them (544x384); ``tools/adapt.py`` on 5 labelled test photos (its
default for 5 photos) and on 64 unlabelled ones. Each is recorded with its
command, commit and wall time in ``benchmarks/results/ready_model_cpu.json``.
(resumable: a recorded run is skipped). ``report`` writes the card's
figures into ``configs/cpu_benchmark/README.md`` and the times into
``README.md`` (the ``results:ready-model`` and ``results:ready-model-times``
blocks) from that file and from ``site_adaptation_cpu.json`` (the four
crack sets).
"""
import argparse
import os
import os.path as osp
import shutil

import numpy as np
from harness import blocks, commands, records, report, site_advice
from harness import front_page  # noqa: F401  registers the README's blocks

from crackdino_mm.apis import READY_CPU_CHECKPOINT, READY_CPU_CONFIG
from crackdino_mm.apis.calibration_default import default_rule

REPO = records.REPO
RESULTS = records.results_path('ready_model_cpu.json')
SITE_RESULTS = records.results_path('site_adaptation_cpu.json')
WORK_DIR = 'work_dirs/ready_model'
SITES = ('Crack500', 'GAPs384', 'ShadowCrack', 'AigleRN-TRIMM')
INFER_PHOTOS = 10
THREADS = '2'


def measure_commands(data_root):
    """Each measurement's tools/ command line, by name."""
    photos = osp.join(WORK_DIR, 'photos')
    images, masks = (osp.join(data_root, 'test_img'),
                     osp.join(data_root, 'test_lab'))
    return {
        'deepcrack_test': [
            'python', 'tools/test.py', READY_CPU_CONFIG, READY_CPU_CHECKPOINT,
            '--work-dir', osp.join(WORK_DIR, 'test'), '--cfg-options',
            f'test_dataloader.dataset.data_root={data_root}'],
        'infer_10_photos': [
            'python', 'tools/infer.py', READY_CPU_CONFIG,
            READY_CPU_CHECKPOINT, photos, '--out-dir',
            osp.join(WORK_DIR, 'infer')],
        'adapt_5_labelled': [
            'python', 'tools/adapt.py', READY_CPU_CONFIG,
            READY_CPU_CHECKPOINT, '--images', images, '--masks', masks,
            '--k', '5', '--out', osp.join(WORK_DIR, 'site_k5.pth')],
        'adapt_64_unlabelled': [
            'python', 'tools/adapt.py', READY_CPU_CONFIG,
            READY_CPU_CHECKPOINT, '--unlabelled', images, '--out',
            osp.join(WORK_DIR, 'site_unlabelled.pth')],
    }


def cmd_run(args):
    os.environ['OMP_NUM_THREADS'] = THREADS
    photos = osp.join(REPO, WORK_DIR, 'photos')
    os.makedirs(photos, exist_ok=True)
    names = sorted(os.listdir(osp.join(args.data_root, 'test_img')))
    for name in names[:INFER_PHOTOS]:
        shutil.copy(osp.join(args.data_root, 'test_img', name), photos)
    for name, cmd in measure_commands(args.data_root).items():
        if name in records.load(RESULTS):
            continue
        load = os.getloadavg()[0]  # other jobs on the cores slow it down
        run = commands.run_tool(name, cmd)
        run.update(threads=int(THREADS), load_before=round(load, 2))
        if name == 'deepcrack_test':
            run['metrics'] = commands.read_test_metrics(
                osp.join(REPO, WORK_DIR, 'test'))
        records.record(RESULTS, name, **run)


def tool_default(k):
    """The tool's default calibration for k photos as a study rule."""
    return site_advice.study_rule(default_rule(k))


def crack_set_rows(site_results):
    """Crack IoU of the ready model on each crack set's 300 test images:
    as it is, after ``tools/adapt.py`` on 5 labelled photos (its default
    for 5, scored from the draws' recorded photos' F; mean of the draws),
    and with the oracle's threshold and scale."""
    rule = tool_default(5)
    found = site_advice.site_scores(site_results, 'segformer', 5, SITES,
                                    [rule])
    rows = []
    for site in SITES:
        oracle = [record['iou'] for key, record in site_results.items()
                  if key.startswith(
                      f'segformer/{site}/oracle_threshold_scale/k0/')]
        rows.append((site, dict(
            none=found['as_is'].get(site),
            default=found['scores'].get(site, {}).get(rule.name),
            oracle_threshold_scale=float(np.mean(oracle)) if oracle
            else None)))
    return rows


def card_lines(results, site_results):
    """The model card's Markdown, from the recorded results."""
    test = results['deepcrack_test']
    metrics = test['metrics']
    source = site_results['source/segformer']
    lines = [
        f'- config: [`{osp.basename(READY_CPU_CONFIG)}`]'
        f'(./{osp.basename(READY_CPU_CONFIG)}); checkpoint: '
        f'`{READY_CPU_CHECKPOINT}` '
        f'({osp.getsize(osp.join(REPO, READY_CPU_CHECKPOINT)) / 2**20:.0f}'
        ' MiB, weights and meta only).',
        '- data: the 270 DeepCrack training images of '
        '`configs/_base_/datasets/splits/deepcrack_train270.txt` (30 held '
        'out for validation); DeepCrack\'s terms: non-commercial research '
        'and education, cite Liu et al., Neurocomputing 338 (2019) 139-153.',
        '- training: SegFormer MiT-B0 from scratch, 1000 iterations at batch '
        '8, 224x224 crops, AdamW 5e-4 with warm-up and cosine decay, seed 0, '
        f'{source["wall_seconds"]:.0f} s on 2 CPU cores (commit '
        f'{source["commit"]}; its command: `source/segformer` in '
        '`benchmarks/results/site_adaptation_cpu.json`).',
        f'- prediction: 224x224 windows, stride 160, threshold 0.5, scale 1 '
        '(the checkpoint stores no calibration: `tools/adapt.py` adds one).',
        '',
        f'DeepCrack, the 237 test images (commit {test["commit"]}, '
        f'`{test["command"]}`):',
        '',
        '| ' + ' | '.join(name for _, name in report.ACCURACY_COLUMNS) + ' |',
        '|' + '---|' * len(report.ACCURACY_COLUMNS),
        '| ' + ' | '.join(f'{metrics[key]:.2f}'
                          for key, _ in report.ACCURACY_COLUMNS) + ' |',
        '',
        'Crack IoU on four crack sets it never saw (300 test images each; '
        '`benchmarks/site_adaptation_cpu.py`): as it is, after '
        '`tools/adapt.py` on 5 labelled photos of the set (its default for '
        '5 photos, mean of the draws), and the best threshold and scale the '
        'test images themselves would choose:',
        '',
        '| crack set | as it is | 5 labelled photos | oracle |',
        '|---|---|---|---|',
    ]
    for site, cells in crack_set_rows(site_results):
        lines.append(f'| {site} | ' + ' | '.join(
            report.cell(cells[arm], 1) for arm in (
                'none', 'default', 'oracle_threshold_scale')) + ' |')
    return lines


def times_lines(results):
    """The README's measured times of the ready model on 2 threads."""
    infer = results['infer_10_photos']
    labelled = results['adapt_5_labelled']
    unlabelled = results['adapt_64_unlabelled']
    loads = [results[name]['load_before'] for name in (
        'infer_10_photos', 'adapt_5_labelled', 'adapt_64_unlabelled')]
    return [
        f'Measured on {infer["threads"]} CPU threads of a machine shared '
        f'with other jobs (load {min(loads):.1f} to {max(loads):.1f} before '
        'the runs; `benchmarks/ready_model_cpu.py`, each run start to end, '
        f'model loading included): `tools/infer.py` on {INFER_PHOTOS} '
        'photos of '
        f'544x384, {infer["wall_seconds"]:.0f} s; `tools/adapt.py` on 5 '
        f'labelled photos, {labelled["wall_seconds"]:.0f} s; on 64 '
        f'unlabelled photos, {unlabelled["wall_seconds"]:.0f} s. A chosen '
        'scale of 2 makes every later prediction about 4 times slower.',
    ]


def markdown(lines):
    """Block text of report lines, long prose lines wrapped."""
    return '\n'.join(report.reflow('\n'.join(lines).split('\n')))


@blocks.register('ready-model', 'configs/cpu_benchmark/README.md')
def card_block():
    return markdown(card_lines(records.load(RESULTS),
                               records.load(SITE_RESULTS)))


@blocks.register('ready-model-times', 'README.md')
def times_block():
    return markdown(times_lines(records.load(RESULTS)))


def cmd_report(args):
    blocks.write('ready-model', 'ready-model-times', 'readme-model-zoo')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    run = sub.add_parser('run')
    run.add_argument('--data-root', default=records.default_data_root())
    sub.add_parser('report')
    args = parser.parse_args()
    dict(run=cmd_run, report=cmd_report)[args.cmd](args)


if __name__ == '__main__':
    main()
