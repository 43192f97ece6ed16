"""Turn a distiller checkpoint into a plain student checkpoint.

    python tools/export_student.py DISTILLER_CKPT STUDENT_CKPT [--config CFG]

Keeps the student's weights (backbone, neck, heads) and the checkpoint's
``meta``; drops the teachers, their feature centres, the optimizer, the
schedulers and the message hub. The result loads with strict keys into the
student config (a plain ``EncoderDecoder``). With ``--config`` (the
distiller's config, or the student's) the student is built from it and the
exported weights are loaded into it with strict keys before anything is
written.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from crackdino_mm.models.segmentors import DualTeacherDistiller


def export_student(checkpoint: dict) -> dict:
    """The student part of a distiller checkpoint (a dict from torch.load):
    ``dict(state_dict=..., meta=...)``."""
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise KeyError('expected a training checkpoint with a "state_dict"')
    state_dict = {
        key: value
        for key, value in checkpoint['state_dict'].items()
        if not key.startswith(DualTeacherDistiller.DISTILLER_ONLY_PREFIXES)
    }
    if not any(key.startswith('backbone.') for key in state_dict):
        raise KeyError('the checkpoint has no "backbone." weights: not a '
                       'segmentor checkpoint')
    return dict(state_dict=state_dict, meta=checkpoint.get('meta', {}))


def build_student(config: str) -> torch.nn.Module:
    """The plain student segmentor of a distiller (or student) config."""
    register_all_modules()
    model_cfg = Config.fromfile(config).model
    if model_cfg.get('type') == 'DualTeacherDistiller':
        model_cfg = DualTeacherDistiller.student_config(model_cfg)
    return MODELS.build(model_cfg)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='distiller checkpoint')
    parser.add_argument('out', help='student checkpoint to write')
    parser.add_argument(
        '--config',
        help='distiller or student config: check that the student loads '
        'the exported weights with strict keys')
    args = parser.parse_args()
    checkpoint = torch.load(args.checkpoint, map_location='cpu',
                            weights_only=False)
    try:
        student = export_student(checkpoint)
    except KeyError as error:
        raise SystemExit(f'{args.checkpoint}: {error.args[0]}')
    if args.config:
        try:
            build_student(args.config).load_state_dict(
                student['state_dict'], strict=True)
        except RuntimeError as error:
            raise SystemExit(f'the student of {args.config} does not load '
                             f'the weights of {args.checkpoint}: {error}')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(student, args.out)
    print(f'student weights ({len(student["state_dict"])} tensors) written '
          f'to {args.out}')


if __name__ == '__main__':
    main()
