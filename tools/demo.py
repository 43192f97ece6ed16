"""End-to-end demo on synthetic cracks, on the CPU in a few minutes.

Stage 1 trains two DINOv2-architecture teachers of different widths from
scratch (no pretrained weights are needed); stage 2 distils both into a
student (initialised from the smaller teacher) with the CAFM neck and the
Lipschitz head; stage 3 exports the student alone, picks its decision
threshold on the validation split, evaluates it on the separate test split
and writes the metrics table and image | ground truth | prediction
pictures.

    python tools/demo.py --work-dir work_dirs/demo
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

import cv2
import torch

from crackdino_mm.apis import check_output_folder, ready_model_command

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs', 'demo')
TEACHERS = {
    'teacher_large': 'teacher-l_vit-t6_300it_synthetic-224x224.py',
    'teacher_base': 'teacher-b_vit-t4_300it_synthetic-224x224.py',
}
DISTILLER = 'crackdino_vit-t4_500it_synthetic-224x224.py'
STUDENT = 'crackdino-student_vit-t4_synthetic-224x224.py'
METRIC_ROWS = [
    ('crack_iou', 'crack IoU'),
    ('crack_f1', 'crack F1'),
    ('precision', 'precision'),
    ('recall', 'recall (crack pixel accuracy)'),
    ('background_iou', 'background IoU'),
    ('miou', 'mIoU'),
    ('decision_threshold', 'decision threshold (from validation)'),
    ('ods', 'ODS'),
    ('ois', 'OIS'),
    ('ap', 'AP'),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument(
        '--num-pictures', type=int, default=6,
        help='test images drawn as image | ground truth | prediction')
    return parser.parse_args()


#: The demo's stages, announced as they start (overall progress).
STAGES = ('train the large teacher', 'train the base teacher',
          'distil the student', 'export and test the student')


def announce(index, start):
    """Print which stage of the demo starts and the time so far."""
    print(f'\n=== demo stage {index + 1}/{len(STAGES)}: {STAGES[index]} '
          f'({time.time() - start:.0f} s so far) ===', flush=True)


def run(cmd):
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def last_checkpoint(work_dir):
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        raise FileNotFoundError(f'no checkpoint was written in {work_dir}')
    with open(pointer) as f:
        return f.read().strip()


def train(config, work_dir, options=()):
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
           osp.join(CONFIGS, config), '--work-dir', work_dir]
    if options:
        cmd += ['--cfg-options', *options]
    run(cmd)
    return last_checkpoint(work_dir)


def evaluate(config, checkpoint, work_dir, num_pictures):
    """Test the exported student; return its metrics and write pictures.

    The decision threshold is the one of best F (ODS) on the validation
    split, stored in the checkpoint's meta (as tools/choose_threshold.py
    does), so every tool uses it; the test split (other images) is then
    measured with it.
    """
    from mmengine.config import Config
    from mmengine.runner import Runner

    from crackdino_mm.inspection.visualization import side_by_side
    from crackdino_mm.apis import (apply_calibration, ods_threshold,
                                   write_calibration)

    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.work_dir = work_dir
    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    threshold = ods_threshold(runner.val(), config)
    apply_calibration(runner.model, threshold=threshold)
    write_calibration(checkpoint, threshold=threshold)
    print(f'decision threshold chosen on the validation split: {threshold} '
          f'(stored in {checkpoint})')
    metrics = runner.test()
    metrics['decision_threshold'] = threshold

    picture_dir = osp.join(work_dir, 'pictures')
    os.makedirs(picture_dir, exist_ok=True)
    dataset = runner.test_dataloader.dataset
    model = runner.model.eval()
    for index in range(min(num_pictures, len(dataset))):
        img, gt = dataset.render(index)
        with torch.no_grad():
            result = model.test_step(
                runner.test_dataloader.collate_fn([dataset[index]]))[0]
        pred = result.pred_sem_seg.data[0].cpu().numpy()
        path = osp.join(picture_dir, f'test_{index:03d}.png')
        cv2.imwrite(path, side_by_side(img, gt, pred))
    return metrics, picture_dir


def write_table(metrics, stage_seconds, path):
    lines = ['| metric (synthetic test split) | value (%; threshold in 0-1) |', '|---|---|']
    for key, name in METRIC_ROWS:
        matches = [v for k, v in metrics.items() if k.split('/')[-1] == key]
        if matches:
            lines.append(f'| {name} | {float(matches[0]):.2f} |')
    lines += ['', '| stage | seconds |', '|---|---|']
    lines += [f'| {name} | {sec:.0f} |' for name, sec in stage_seconds]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return '\n'.join(lines)


def photos_command(student_ckpt, photos='YOUR_PHOTOS/',
                   out_dir='work_dirs/my_photos'):
    """The command that runs the demo's student on a folder of photos and
    writes the inspection report (``OUT_DIR/index.html``)."""
    config = osp.relpath(osp.join(CONFIGS, STUDENT), REPO)
    return (f'python tools/infer.py {config} {student_ckpt} {photos} '
            f'--out-dir {out_dir}')


def closing_message(report, student_ckpt):
    """The demo's last words: its report, and the commands for photos
    (the ready CPU model for real ones)."""
    return (f'\nreport: {report}\n'
            f'the demo student ({student_ckpt}) learnt synthetic cracks '
            'only: a first look at a photo, not an inspection:\n  ' +
            photos_command(osp.relpath(student_ckpt, REPO),
                           out_dir='work_dirs/demo_photos') +
            '\nfor real photos, run the ready CPU model, trained on '
            'DeepCrack (README, "A ready CPU model"); its report is '
            'work_dirs/my_photos/index.html:\n  ' + ready_model_command())


def main():
    args = parse_args()
    try:
        check_output_folder(args.work_dir, '--work-dir')
    except ValueError as error:
        sys.exit(f'demo: {error}')
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    start, stage_seconds = time.time(), []

    teacher_options, checkpoints = [], {}
    for index, (name, config) in enumerate(TEACHERS.items()):
        announce(index, start)
        tic = time.time()
        checkpoints[name] = train(config, osp.join(work_dir, name))
        stage_seconds.append((f'train {name}', time.time() - tic))
        teacher_options.append(f'model.teachers.{name}.backbone.init_cfg.'
                               f'checkpoint={checkpoints[name]}')
    # The student starts from the base teacher, as DINOv2-B in the method.
    teacher_options.append('model.backbone.init_cfg.checkpoint='
                           f'{checkpoints["teacher_base"]}')

    announce(2, start)
    tic = time.time()
    distiller_ckpt = train(DISTILLER, osp.join(work_dir, 'distill'),
                           teacher_options)
    stage_seconds.append(('distil the student', time.time() - tic))

    announce(3, start)
    tic = time.time()
    student_ckpt = osp.join(work_dir, 'student.pth')
    run([sys.executable, osp.join(REPO, 'tools', 'export_student.py'),
         distiller_ckpt, student_ckpt])
    metrics, picture_dir = evaluate(STUDENT, student_ckpt,
                                    osp.join(work_dir, 'test'),
                                    args.num_pictures)
    stage_seconds.append(('export and test the student', time.time() - tic))
    stage_seconds.append(('total', time.time() - start))

    with open(osp.join(work_dir, 'metrics.json'), 'w') as f:
        json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
    table = write_table(metrics, stage_seconds,
                        osp.join(work_dir, 'metrics.md'))
    print('\n' + table)
    print(f'\npictures: {picture_dir}')
    crack_iou = [v for k, v in metrics.items() if k.endswith('crack_iou')]
    if crack_iou:
        print(f'crack IoU {float(crack_iou[0]):.2f} %')
    print(closing_message(osp.join(work_dir, 'metrics.md'), student_ckpt))


if __name__ == '__main__':
    main()
