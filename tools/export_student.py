"""Turn a distiller checkpoint into a plain student checkpoint.

    python tools/export_student.py DISTILLER_CKPT STUDENT_CKPT

Keeps the student's weights (backbone, neck, heads) and the checkpoint's
``meta``; drops the teachers, their feature centres, the optimizer and the
runner state. The result loads with strict keys into the student config
(a plain ``EncoderDecoder``).
"""
import argparse
import os
import os.path as osp

import torch

DISTILLER_ONLY = ('teachers.', 'teacher_centers.', 'distill_loss.')


def export_student(checkpoint: dict) -> dict:
    """The student part of a distiller checkpoint (a dict from torch.load)."""
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise KeyError('expected a training checkpoint with a "state_dict"')
    state_dict = {
        key: value
        for key, value in checkpoint['state_dict'].items()
        if not key.startswith(DISTILLER_ONLY)
    }
    if not any(key.startswith('backbone.') for key in state_dict):
        raise KeyError('the checkpoint has no "backbone." weights: not a '
                       'segmentor checkpoint')
    return dict(state_dict=state_dict, meta=checkpoint.get('meta', {}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='distiller checkpoint')
    parser.add_argument('out', help='student checkpoint to write')
    args = parser.parse_args()
    checkpoint = torch.load(args.checkpoint, map_location='cpu',
                            weights_only=False)
    try:
        student = export_student(checkpoint)
    except KeyError as error:
        raise SystemExit(f'{args.checkpoint}: {error.args[0]}')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(student, args.out)
    print(f'student weights ({len(student["state_dict"])} tensors) written '
          f'to {args.out}')


if __name__ == '__main__':
    main()
