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
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from crackdino_mm.apis import (check_output_file, deployable_config,
                               deployable_state_dict, load_checkpoint_file,
                               save_atomically)


def export_student(checkpoint: dict, where: str = 'checkpoint') -> dict:
    """The student part of a loaded distiller checkpoint:
    ``dict(state_dict=..., meta=...)``."""
    return dict(state_dict=deployable_state_dict(checkpoint, where),
                meta=checkpoint.get('meta', {}))


def build_student(config: str) -> torch.nn.Module:
    """The plain student segmentor of a distiller (or student) config."""
    cfg = deployable_config(Config.fromfile(config))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return MODELS.build(cfg.model)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='distiller checkpoint')
    parser.add_argument('out', help='student checkpoint to write')
    parser.add_argument(
        '--config',
        help='distiller or student config: check that the student loads '
        'the exported weights with strict keys')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        check_output_file(args.out, 'out', [('source checkpoint',
                                             args.checkpoint),
                                            ('config', args.config)])
    except ValueError as error:
        print(f'export_student.py: {error}', file=sys.stderr)
        return 2
    try:
        student = export_student(load_checkpoint_file(args.checkpoint),
                                 args.checkpoint)
    except (KeyError, ValueError, FileNotFoundError) as error:
        raise SystemExit(error.args[0])
    if args.config:
        try:
            build_student(args.config).load_state_dict(
                student['state_dict'], strict=True)
        except RuntimeError as error:
            raise SystemExit(f'the student of {args.config} does not load '
                             f'the weights of {args.checkpoint}: {error}')
    save_atomically(student, args.out)
    print(f'student weights ({len(student["state_dict"])} tensors) written '
          f'to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
