"""A deployable student loads into its distiller config quietly (what only
distillation holds is absent by design), while a real mismatch is still
reported, and fails loudly where keys are strict."""
import logging

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_state_dict
from mmseg.registry import MODELS

from crackdino_mm.apis import deployable_state_dict, init_crack_model
from test_site_adaptation import DISTILLER, STUDENT


class Lines(logging.Handler):

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope='module')
def distiller():
    init_default_scope('mmseg')
    cfg = Config.fromfile(DISTILLER)
    for teacher in cfg.model.teachers.values():
        teacher.allow_random_init = True
        teacher.backbone.init_cfg = None
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def load_log(model, state):
    logger = logging.getLogger('test_student_loading')
    handler = Lines()
    logger.addHandler(handler)
    try:
        load_state_dict(model, state, strict=False, logger=logger)
    finally:
        logger.removeHandler(handler)
    return '\n'.join(handler.lines)


def test_a_student_loads_into_its_distiller_without_missing_keys(distiller):
    exported = deployable_state_dict(
        dict(state_dict=distiller.state_dict()), 'distiller')
    assert not any(k.startswith('teacher_centers.') for k in exported)
    plain = MODELS.build(Config.fromfile(STUDENT).model).state_dict()
    # Exported (distillation's projections kept) and plain (without them).
    assert load_log(distiller, exported) == ''
    assert load_log(distiller, plain) == ''


def test_part_of_what_distillation_holds_missing_is_still_reported(
        distiller):
    state = dict(distiller.state_dict())
    projection = next(k for k in distiller.student_absent_keys[1]
                      if k.endswith('conv.weight'))
    center = distiller.student_absent_keys[0][0]
    del state[projection], state[center]
    log = load_log(distiller, state)
    assert 'missing keys' in log and projection in log and center in log


def test_a_real_mismatch_fails_naming_both_files(tmp_path):
    """Keys are strict where a model is deployed: another architecture's
    checkpoint is an error naming the checkpoint and the config."""
    wrong = MODELS.build(Config.fromfile(STUDENT).model).state_dict()
    wrong = {k: v for k, v in wrong.items() if not k.startswith('neck.')}
    path = tmp_path / 'wrong.pth'
    torch.save(dict(state_dict=wrong, meta={}), str(path))
    with pytest.raises(ValueError) as error:
        init_crack_model(DISTILLER, str(path))
    assert str(path) in str(error.value) and 'crackdino_vit-t4' in str(
        error.value)
