"""DualTeacherDistiller: frozen teachers that run only in training, loss
weighting, centring buffers, checkpoints without teachers, resume, config
errors, and that distillation moves the student towards the teacher."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch.utils.data import Dataset

STUDENT_ARCH = dict(embed_dims=32, num_layers=3, num_heads=2,
                    feedforward_channels=64)
LARGE_ARCH = dict(embed_dims=48, num_layers=4, num_heads=2,
                  feedforward_channels=96)
SIZE = 56


def teacher_file(tmp_path, arch, name, seed):
    """A DINOv2 backbone's weights saved as a bare state dict."""
    torch.manual_seed(seed)
    teacher = MODELS.build(dict(type='DINOv2', arch=arch, img_size=SIZE,
                                out_indices=1))
    path = str(tmp_path / name)
    torch.save(teacher.state_dict(), path)
    return path


def distiller_cfg(tmp_path, **overrides):
    """Tiny DINOv2 student (3 blocks, 32 wide) with a CAFM neck and a
    Lipschitz head, distilled from a 48-wide and a 32-wide DINOv2."""
    large = teacher_file(tmp_path, LARGE_ARCH, 'large.pth', 1)
    base = teacher_file(tmp_path, STUDENT_ARCH, 'base.pth', 2)
    norm_cfg = dict(type='BN')
    cfg = dict(
        type='DualTeacherDistiller',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[128] * 3,
                               std=[64] * 3, size=(SIZE, SIZE)),
        backbone=dict(type='DINOv2', arch=STUDENT_ARCH, img_size=SIZE,
                      out_indices=(0, 1, 2)),
        neck=dict(type='CAFM', in_channels=32, num_inputs=3,
                  branch_channels=(48, 32), out_channels=32,
                  norm_cfg=norm_cfg),
        decode_head=dict(
            type='LipschitzHead', in_channels=32, in_index=0,
            decoder_channels=(16, 8), num_classes=2, out_channels=1,
            threshold=0.5, norm_cfg=norm_cfg,
            loss_decode=[dict(type='CrossEntropyLoss', use_sigmoid=True,
                              class_weight=[4.0]),
                         dict(type='BinaryDiceLoss')]),
        teachers=[
            dict(backbone=dict(type='DINOv2', arch=LARGE_ARCH, img_size=SIZE,
                               out_indices=(1, 2, 3), frozen=True,
                               init_cfg=dict(type='Pretrained',
                                             checkpoint=large)),
                 teacher_layers=(1, 2, 3), student_layers=(0, 1, 2),
                 weight=0.6),
            dict(backbone=dict(type='DINOv2', arch=STUDENT_ARCH, img_size=SIZE,
                               out_indices=(0, 1, 2), frozen=True,
                               init_cfg=dict(type='Pretrained',
                                             checkpoint=base)),
                 teacher_layers=(0, 1, 2), student_layers=(0, 1, 2),
                 weight=0.4),
        ],
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    cfg.update(overrides)
    return cfg


def build(cfg):
    model = MODELS.build(ConfigDict(copy.deepcopy(cfg)))
    model.init_weights()
    return model


def sample(g):
    s = SegDataSample(gt_sem_seg=PixelData(
        data=(torch.rand(1, SIZE, SIZE, generator=g) > 0.9).long()))
    s.set_metainfo(dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
                        pad_shape=(SIZE, SIZE)))
    return s


def batch(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 255, (3, SIZE, SIZE), generator=g).float()
              for _ in range(n)]
    return dict(inputs=inputs, data_samples=[sample(g) for _ in range(n)])


def optim(model, lr=1e-3):
    return OptimWrapper(torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=lr))


def count_teacher_calls(model):
    calls = []
    for teacher in model.teachers:
        teacher.register_forward_hook(lambda *args: calls.append(1))
    return calls


def test_gradients_reach_student_only_and_teachers_stay_fixed(tmp_path):
    model = build(distiller_cfg(tmp_path))
    model.train()
    assert model.training and not any(t.training for t in model.teachers)
    assert not any(p.requires_grad for p in model.teachers.parameters())
    before = copy.deepcopy(model.teachers.state_dict())
    data = model.data_preprocessor(batch(), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_distill_t0', 'loss_distill_t1', 'decode.loss_gp'} <= set(
        losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.layers[0].attn.qkv.weight.grad.abs().sum() > 0
    # All three block projections into the large teacher's space are used.
    for conv in model.neck.projections[0]:
        assert conv.conv.weight.grad.abs().sum() > 0
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teachers.parameters())
    wrapper = optim(model)
    for step in range(3):
        model.train_step(batch(seed=step), wrapper)
    after = model.teachers.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_teachers_are_left_out_of_the_optimizer(tmp_path):
    model = build(distiller_cfg(tmp_path))
    teacher_ids = {id(p) for p in model.teachers.parameters()}
    # mmengine's constructor with param-wise options skips frozen weights.
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-3),
        paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1)))))
    grouped = {id(p) for g in wrapper.param_groups for p in g['params']}
    assert not grouped & teacher_ids
    assert grouped & {id(p) for p in model.parameters()} == {
        id(p) for p in model.parameters() if p.requires_grad}
    # Without them it passes model.parameters(): the teachers never get a
    # gradient, so the optimizer keeps no state for them and never moves
    # them (not even by weight decay).
    plain = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.5)))
    before = copy.deepcopy(model.teachers.state_dict())
    model.train()
    for step in range(2):
        model.train_step(batch(seed=step), plain)
    assert not {id(p) for p in plain.optimizer.state} & teacher_ids
    after = model.teachers.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_losses_are_weighted_as_configured(tmp_path):
    torch.manual_seed(0)
    model = build(distiller_cfg(
        tmp_path, seg_weight=0.7, distill_weight=0.3,
        distill_loss=dict(type='MSEDistillLoss')))
    model.eval()  # deterministic: BN running statistics, no dropout
    for buffer in model.teacher_centers.buffers():
        buffer.normal_()
    data = model.data_preprocessor(batch(), False)
    inputs, samples = data['inputs'], data['data_samples']
    torch.manual_seed(1)
    losses = model.loss(inputs, samples)
    with torch.no_grad():
        _, projections = model.neck.forward_with_projections(
            model.backbone(inputs))
        teacher_maps = model.teacher_features(inputs)
    for k, teacher_weight in enumerate((0.6, 0.4)):
        expected = 0.
        for i, layer_weight in enumerate((1 / 3, 2 / 3, 1.0)):
            center = getattr(model.teacher_centers,
                             f't{k}_l{i}')[None, :, None, None]
            expected += layer_weight * F.mse_loss(
                F.normalize(projections[k][i] - center, dim=1),
                F.normalize(teacher_maps[k][i] - center, dim=1))
        assert torch.allclose(losses[f'loss_distill_t{k}'],
                              0.3 * teacher_weight * expected, rtol=1e-5)

    # Segmentation losses scale with seg_weight; loss_gp keeps its weight.
    model.seg_weight = 1.0
    torch.manual_seed(1)
    unscaled = model.loss(inputs, samples)
    for name in ('decode.loss_ce', 'decode.loss_dice'):
        assert torch.allclose(losses[name], 0.7 * unscaled[name])
    assert torch.allclose(losses['decode.loss_gp'],
                          unscaled['decode.loss_gp'])


def test_a_renamed_segmentation_loss_is_still_weighted(tmp_path):
    cfg = distiller_cfg(tmp_path, seg_weight=0.25)
    cfg['decode_head']['loss_decode'] = [dict(
        type='CrossEntropyLoss', use_sigmoid=True, loss_name='loss_bce_gp')]
    cfg['auxiliary_head'] = dict(
        type='FCNHead', in_channels=32, channels=8, num_convs=1,
        num_classes=2, out_channels=1, threshold=0.5,
        norm_cfg=dict(type='BN'), loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_name='loss_gp'))
    model = build(cfg).eval()
    data = model.data_preprocessor(batch(), False)
    torch.manual_seed(1)
    losses = model.loss(data['inputs'], data['data_samples'])
    model.seg_weight = 1.0
    torch.manual_seed(1)
    unscaled = model.loss(data['inputs'], data['data_samples'])
    # Named like the penalty, but segmentation losses: scaled.
    for name in ('decode.loss_bce_gp', 'aux.loss_gp'):
        assert torch.allclose(losses[name], 0.25 * unscaled[name])
    # The penalty, declared by the head, keeps its weight.
    assert torch.allclose(losses['decode.loss_gp'],
                          unscaled['decode.loss_gp'])
    assert losses['decode.gp_grad_norm'] == unscaled['decode.gp_grad_norm']


@pytest.mark.parametrize('distill_loss', [
    dict(type='ChannelKLDistillLoss', temperature=3.0),
    dict(type='CosineDistillLoss'), dict(type='MSEDistillLoss')])
def test_a_student_equal_to_its_teacher_has_zero_loss(tmp_path,
                                                      distill_loss):
    """The student starts from the base teacher (as from DINOv2-B): once
    the centres are far from zero, its loss to that teacher stays zero, and
    to the other teacher it does not."""
    cfg = distiller_cfg(tmp_path, distill_loss=distill_loss)
    cfg['backbone']['init_cfg'] = cfg['teachers'][1]['backbone']['init_cfg']
    model = build(cfg)
    model.train()
    for buffer in model.teacher_centers.buffers():
        buffer.normal_(std=3.0)
    data = model.data_preprocessor(batch(), True)
    for _ in range(2):
        losses = model.loss(data['inputs'], data['data_samples'])
        assert losses['loss_distill_t1'].item() == pytest.approx(0, abs=1e-6)
        assert losses['loss_distill_t0'].item() > 1e-4


def test_layer_weights_are_configurable_per_teacher(tmp_path):
    cfg = distiller_cfg(tmp_path, distill_loss=dict(type='MSEDistillLoss'))
    cfg['teachers'][0]['layer_weights'] = (0.0, 0.0, 1.0)
    model = build(cfg)
    assert model.layer_weights == [[0.0, 0.0, 1.0], [1 / 3, 2 / 3, 1.0]]
    model.eval()
    data = model.data_preprocessor(batch(), False)
    losses = model.loss(data['inputs'], data['data_samples'])
    with torch.no_grad():
        _, projections = model.neck.forward_with_projections(
            model.backbone(data['inputs']))
        deepest = model.teacher_features(data['inputs'])[0][2]
    only_deepest = model.distill_loss(projections[0][2], deepest)
    assert torch.allclose(losses['loss_distill_t0'],
                          0.3 * 0.6 * only_deepest, rtol=1e-5)


def test_no_teacher_runs_outside_training(tmp_path):
    model = build(distiller_cfg(tmp_path))
    calls = count_teacher_calls(model)
    model.eval()
    model.val_step(batch())
    model.test_step(batch())
    data = model.data_preprocessor(batch(), False)
    model.predict(data['inputs'], data['data_samples'])
    model._forward(data['inputs'], data['data_samples'])
    model.encode_decode(data['inputs'], [s.metainfo
                                         for s in data['data_samples']])
    model.test_cfg = ConfigDict(mode='slide', crop_size=(28, 28),
                                stride=(20, 20))
    model.test_step(batch())
    tta = MODELS.build(dict(type='SegTTAModel', module=model))
    flipped = batch()
    flipped['inputs'] = [img.flip(-1) for img in flipped['inputs']]
    for s in flipped['data_samples']:
        s.set_metainfo(dict(flip=True, flip_direction='horizontal'))
    views = [batch(), flipped]
    for view in views:
        for i, s in enumerate(view['data_samples']):
            s.set_metainfo(dict(img_path=f'{i}.png'))
    tta.test_step(dict(inputs=[v['inputs'] for v in views],
                       data_samples=[v['data_samples'] for v in views]))
    assert calls == []
    model.train()
    model.train_step(batch(), optim(model))
    assert len(calls) == 2


def test_centres_are_buffers_updated_in_training_only(tmp_path):
    model = build(distiller_cfg(tmp_path))
    model.eval()
    model.test_step(batch())
    data = model.data_preprocessor(batch(), True)
    model.loss(data['inputs'], data['data_samples'])  # eval: no update
    assert all(torch.count_nonzero(b) == 0
               for b in model.teacher_centers.buffers())
    model.train()
    expected = torch.zeros(48)
    for seed in (0, 1):
        data = model.data_preprocessor(batch(seed=seed), True)
        teacher_map = model.teacher_features(data['inputs'])[0][2]
        model.loss(data['inputs'], data['data_samples'])
        batch_mean = teacher_map.mean(dim=(0, 2, 3))
        expected = 0.9 * expected + 0.1 * batch_mean
        assert torch.allclose(model.teacher_centers.t0_l2, expected,
                              atol=1e-6)
    state = model.state_dict()
    assert {f't{k}_l{i}' for k in (0, 1) for i in (0, 1, 2)} == {
        key.split('.')[-1] for key in state
        if key.startswith('teacher_centers.')}
    assert not any(k.startswith('teachers.') for k in state)
    fresh = build(distiller_cfg(tmp_path))
    fresh.load_state_dict(state, strict=True)
    for name, buffer in model.teacher_centers.named_buffers():
        assert torch.equal(getattr(fresh.teacher_centers, name), buffer)


def test_student_keys_are_a_plain_encoder_decoders(tmp_path):
    cfg = distiller_cfg(tmp_path)
    model = build(cfg)
    student = MODELS.build(ConfigDict(
        type(model).student_config(copy.deepcopy(cfg))))
    assert type(student).__name__ == 'EncoderDecoder'
    own = {k: v for k, v in model.state_dict().items()
           if not k.startswith(model.DISTILLER_ONLY_PREFIXES)}
    # Only the projections of unfused student outputs (distillation's
    # alone) are left out, and the student loads the rest strictly.
    left_out = set(own) - set(student.state_dict())
    assert left_out == {k for k in own if k.startswith(
        ('neck.projections.0.0.', 'neck.projections.0.1.'))}
    assert set(student.state_dict()) <= set(own)
    student.load_state_dict(own, strict=True)


def test_every_student_parameter_gets_a_gradient(tmp_path):
    # What DDP without find_unused_parameters needs when the exported
    # student is fine-tuned.
    cfg = distiller_cfg(tmp_path)
    distiller = build(cfg)
    student = MODELS.build(ConfigDict(
        distiller.student_config(copy.deepcopy(cfg))))
    for model in (distiller, student):
        data = model.data_preprocessor(batch(), True)
        losses = model.loss(data['inputs'], data['data_samples'])
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        unused = [n for n, p in model.named_parameters()
                  if p.requires_grad and p.grad is None]
        assert not unused


def test_distiller_args_are_exactly_those_the_student_lacks():
    import inspect

    from mmseg.models.segmentors import EncoderDecoder
    distiller = MODELS.get('DualTeacherDistiller')
    own = set(inspect.signature(distiller.__init__).parameters) - set(
        inspect.signature(EncoderDecoder.__init__).parameters)
    assert own == set(distiller.DISTILLER_ARGS)


def test_a_neck_without_the_contract_is_named(tmp_path):
    cfg = distiller_cfg(tmp_path)
    with pytest.raises(TypeError, match=r"'FPN' lacks \['forward_with_pro"):
        MODELS.get('DualTeacherDistiller').student_config(
            dict(cfg, neck=dict(type='FPN')))


def held_out_agreement(model, inputs, k):
    """Held-out KD loss and cosine similarity of the student's projection
    into teacher k's space against teacher k's centred deepest map."""
    model.eval()
    with torch.no_grad():
        _, projections = model.neck.forward_with_projections(
            model.backbone(inputs))
        center = getattr(model.teacher_centers, f't{k}_l2')[:, None, None]
        teacher = model.teacher_features(inputs)[k][2] - center
        student = projections[k][2] - center
        kd = model.distill_loss(student, teacher).item()
        cosine = F.cosine_similarity(student, teacher, dim=1).mean().item()
    model.train()
    return kd, cosine


def test_distillation_transfers_to_unseen_inputs(tmp_path):
    """Only the (default, channel KL) distillation loss trains the student
    against fixed random teachers; the student's projections get closer to
    both teachers' maps on images it never saw: much closer through the
    identity branch (the base teacher has the student's width), less
    through the large teacher's 1x1 conv + BN + ReLU projection."""
    model = build(distiller_cfg(tmp_path, seg_weight=0.0, distill_weight=1.0))
    held_out = model.data_preprocessor(batch(n=4, seed=100), False)['inputs']
    wrapper = optim(model, lr=3e-3)
    model.train()
    model.train_step(batch(seed=0), wrapper)  # centres see some data first
    start = [held_out_agreement(model, held_out, k) for k in (0, 1)]
    for step in range(1, 120):
        model.train_step(batch(seed=step), wrapper)
    end = [held_out_agreement(model, held_out, k) for k in (0, 1)]
    print(f'held-out (KD, cosine) per teacher: {start} -> {end}')
    (kd0, cos0), (kd1, cos1) = start
    (kd0_end, cos0_end), (kd1_end, cos1_end) = end
    assert kd0_end < 0.85 * kd0 and cos0_end > cos0 + 0.1
    assert kd1_end < 0.3 * kd1 and cos1_end > cos1 + 0.5


class TinySegData(Dataset):
    """Random images and sparse masks in the packed format MMSeg loaders
    give (uint8 CHW inputs, SegDataSample)."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(index)
        return dict(inputs=torch.randint(0, 255, (3, SIZE, SIZE),
                                         generator=g, dtype=torch.uint8),
                    data_samples=sample(g))


class RecordState(Hook):
    """Copies the teachers' weights and the centres when training starts
    (after the runner has loaded or resumed its checkpoint)."""

    def before_train(self, runner):
        self.teachers = copy.deepcopy(runner.model.teachers.state_dict())
        self.centres = copy.deepcopy(
            runner.model.teacher_centers.state_dict())


def runner(tmp_path, cfg, max_iters, resume=False):
    record = RecordState()
    return Runner(
        model=copy.deepcopy(cfg),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            dataset=TinySegData(), batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=2, by_epoch=False)),
        custom_hooks=[record],
        default_scope='mmseg',
        resume=resume,
        log_level='WARNING'), record


def test_checkpoint_has_no_teachers_and_resume_reloads_them(tmp_path):
    cfg = distiller_cfg(tmp_path)
    first, _ = runner(tmp_path, cfg, max_iters=2)
    first.train()
    saved = torch.load(tmp_path / 'work' / 'iter_2.pth', map_location='cpu',
                       weights_only=False)
    assert not any(k.startswith('teachers.') for k in saved['state_dict'])
    assert any(torch.count_nonzero(v) for k, v in saved['state_dict'].items()
               if k.startswith('teacher_centers.'))

    second, record = runner(tmp_path, cfg, max_iters=3, resume=True)
    second.train()
    assert second.iter == 3
    for name, value in record.centres.items():
        assert torch.equal(value, saved['state_dict']['teacher_centers.' +
                                                      name])
    # The teachers came from their own files, not from the checkpoint.
    for k, teacher in enumerate(cfg['teachers']):
        weights = torch.load(teacher['backbone']['init_cfg']['checkpoint'])
        for name, value in weights.items():
            assert torch.equal(record.teachers[f'{k}.{name}'], value), name


def test_a_backbone_without_its_own_loader_is_loaded_strictly(tmp_path):
    vit = dict(type='mmpretrain.VisionTransformer',
               arch=dict(embed_dims=48, num_layers=2, num_heads=2,
                         feedforward_channels=96),
               img_size=SIZE, patch_size=14, out_type='featmap',
               final_norm=False, out_indices=(0, 1))
    torch.manual_seed(3)
    weights = MODELS.build(vit).state_dict()
    path = str(tmp_path / 'vit.pth')
    torch.save(dict(state_dict={'backbone.' + k: v
                                for k, v in weights.items()}), path)
    cfg = distiller_cfg(tmp_path)
    cfg['teachers'][0] = dict(
        backbone=dict(vit, init_cfg=dict(type='Pretrained', checkpoint=path,
                                         prefix='backbone.')),
        teacher_layers=(-2, -1), student_layers=(1, 2), weight=0.6)
    model = build(cfg)
    for name, value in model.teachers[0].state_dict().items():
        assert torch.equal(value, weights[name])
    model.train()
    assert not model.teachers[0].training  # no `frozen` option of its own
    log_vars = model.train_step(batch(), optim(model))
    assert torch.isfinite(log_vars['loss_distill_t0'])

    cfg['teachers'][0]['backbone']['init_cfg']['prefix'] = 'student.'
    with pytest.raises(KeyError, match='vit.pth does not fit'):
        build(cfg)


def test_teachers_can_run_in_bfloat16(tmp_path):
    model = build(distiller_cfg(tmp_path, teacher_autocast=True))
    inputs = model.data_preprocessor(batch(), False)['inputs']
    half = model.teacher_features(inputs)
    model.teacher_autocast = False
    full = model.teacher_features(inputs)
    for h, f in zip(half[0], full[0]):
        assert h.dtype == torch.float32
        assert F.cosine_similarity(h, f, dim=1).mean() > 0.98
    model.teacher_autocast = True
    model.train()
    log_vars = model.train_step(batch(), optim(model))
    assert torch.isfinite(log_vars['loss'])


def test_bad_configurations(tmp_path):
    cfg = distiller_cfg(tmp_path)

    def fails(error, match, change, init=False):
        bad = copy.deepcopy(cfg)
        change(bad)
        with pytest.raises(error, match=match):
            model = MODELS.build(ConfigDict(bad))
            if init:
                model.init_weights()

    absent = str(tmp_path / 'absent_large.pth')
    # A missing file stops init_weights (before training), before any
    # weight is loaded.
    fails(FileNotFoundError, 'teachers\\.0: checkpoint file .*absent_large',
          lambda c: c['teachers'][0]['backbone']['init_cfg'].update(
              checkpoint=absent), init=True)
    assert not osp.exists(absent)
    large = cfg['teachers'][0]['backbone']['init_cfg']['checkpoint']
    fails(KeyError, 'large.pth', lambda c: c['teachers'][1]['backbone'][
        'init_cfg'].update(checkpoint=large), init=True)
    fails(ValueError, r'student layers \[5\]',
          lambda c: c['teachers'][0].update(student_layers=(0, 1, 5)))
    fails(ValueError, r'teachers\.1 layers \[3\]',
          lambda c: c['teachers'][1].update(teacher_layers=(0, 1, 3)))
    fails(ValueError, r'teachers\.0 has no pretrained',
          lambda c: c['teachers'][0]['backbone'].pop('init_cfg'))
    fails(ValueError, 'teachers.0 has 48 channels but neck branch 0 projects '
          'to 40', lambda c: c['neck'].update(branch_channels=(40, 32)))
    fails(ValueError, '2 projection branches for 1 teachers',
          lambda c: c['teachers'].pop())
    fails(KeyError, r"missing keys \['weight'\]",
          lambda c: c['teachers'][0].pop('weight'))
    fails(KeyError, r"unknown keys \['layers'\]",
          lambda c: c['teachers'][0].update(layers=(1, )))
    fails(ValueError, 'must pair up',
          lambda c: c['teachers'][0].update(teacher_layers=(2, 3)))
    fails(ValueError, '2 layer_weights for 3 layer pairs',
          lambda c: c['teachers'][0].update(layer_weights=(0.5, 1.0)))
    fails(TypeError, 'needs a neck that projects.*NoneType lacks',
          lambda c: c.update(neck=None, decode_head=dict(
              c['decode_head'], in_index=2)))
    fails(ValueError, 'center_momentum',
          lambda c: c.update(center_momentum=1.0))


def test_random_teachers_need_an_explicit_flag(tmp_path):
    cfg = distiller_cfg(tmp_path)
    cfg['teachers'][0]['backbone'].pop('init_cfg')
    cfg['teachers'][0]['allow_random_init'] = True
    model = build(cfg)
    assert not any(p.requires_grad for p in model.teachers.parameters())


def test_testing_a_trained_checkpoint_needs_no_teacher_file(tmp_path):
    trained = build(distiller_cfg(tmp_path))
    trained.train()
    trained.train_step(batch(), optim(trained))
    state = trained.state_dict()
    cfg = distiller_cfg(tmp_path)
    for teacher in cfg['teachers']:
        teacher['backbone']['init_cfg']['checkpoint'] = str(
            tmp_path / 'moved_away.pth')
    model = MODELS.build(ConfigDict(cfg))  # as tools/test.py builds it
    model.load_state_dict(state)
    model.eval()
    expected = trained.eval().test_step(batch(seed=3))[0].seg_logits.data
    result = model.test_step(batch(seed=3))[0].seg_logits.data
    torch.testing.assert_close(result, expected)


def test_named_teachers_keep_their_branch_keys_and_names(tmp_path):
    """Teachers given by name (as the configs give them) build the same
    distiller, with the same state-dict keys, as the list in branch order,
    whatever the dict's order (a dumped config sorts its keys); errors name
    the teacher as --cfg-options addresses it."""
    listed = distiller_cfg(tmp_path)
    large, base = (dict(t, branch=k)
                   for k, t in enumerate(listed['teachers']))
    named = dict(listed, teachers=dict(teacher_base=base,
                                       teacher_large=large))
    torch.manual_seed(0)
    by_name = build(named)
    torch.manual_seed(0)
    by_list = build(listed)
    assert by_name.teacher_names == ['teacher_large', 'teacher_base']
    assert by_list.teacher_names == ['0', '1']
    assert list(by_name.state_dict()) == list(by_list.state_dict())
    for key, value in by_list.state_dict().items():
        assert torch.equal(by_name.state_dict()[key], value), key
    assert [t.embed_dims for t in by_name.teachers] == [48, 32]
    bad = copy.deepcopy(named)
    bad['teachers']['teacher_base']['teacher_layers'] = (0, 1, 3)
    with pytest.raises(ValueError, match=r'teachers\.teacher_base layers'):
        build(bad)
    unplaced = copy.deepcopy(named)
    del unplaced['teachers']['teacher_large']['branch']
    with pytest.raises(KeyError, match=r'teachers\.teacher_large: no branch'):
        build(unplaced)
    twice = copy.deepcopy(named)
    twice['teachers']['teacher_base']['branch'] = 0
    with pytest.raises(ValueError, match=r'branches \[0, 0\] must be'):
        build(twice)
