"""Site adaptation: photos, calibration (threshold and scale), label-free
normalisation statistics, fine-tuning with and without distillation, and
tools/adapt.py."""
import hashlib
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from crackdino_mm.apis import (adapt_to_site, choose_calibration,
                               init_crack_model, load_site_photos,
                               map_scores, reestimate_norm_stats)
from crackdino_mm.apis import site_calibration
from crackdino_mm.apis.site_finetune import freeze_backbone
from crackdino_mm.evaluation import CrackMetric
from crackdino_mm.utils import read_calibration

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STUDENT = osp.join(REPO, 'configs', 'demo',
                   'crackdino-student_vit-t4_synthetic-224x224.py')
DISTILLER = osp.join(REPO, 'configs', 'demo',
                     'crackdino_vit-t4_500it_synthetic-224x224.py')


def write_site(root, count, size=(90, 120), crack=True, seed=0):
    """``count`` photos with a dark line (the crack) and their masks."""
    rng = np.random.default_rng(seed)
    images, masks = root / 'img', root / 'lab'
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    for i in range(count):
        img = rng.integers(120, 200, (*size, 3), dtype=np.uint8)
        mask = np.zeros(size, np.uint8)
        if crack:
            x = int(rng.integers(10, size[1] - 10))
            cv2.line(mask, (x, 0), (x + 15, size[0] - 1), 255, 2)
        img[mask > 0] = 40
        cv2.imwrite(str(images / f'p{i}.jpg'), img)
        cv2.imwrite(str(masks / f'p{i}.png'), mask)
    return str(images), str(masks)


@pytest.fixture(scope='module')
def student(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ckpt') / 'student.pth'
    model = MODELS.build(Config.fromfile(STUDENT).model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), str(path))
    return str(path)


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    return write_site(tmp_path_factory.mktemp('site'), 4)


def digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def test_map_scores_match_a_brute_force_sweep():
    rng = np.random.default_rng(1)
    probs = [rng.random((20, 30)).astype(np.float32) for _ in range(3)]
    labels = [(rng.random((20, 30)) < p * 0.5).astype(np.uint8)
              for p in probs]
    labels[0][0, :5] = 255
    scores = map_scores(probs, labels, 0.5)
    best_f, best_t = -1, None
    for t in CrackMetric().thresholds:
        tp = fp = fn = 0
        for p, lab in zip(probs, labels):
            valid = lab != 255
            pred = (p > t) & valid
            tp += (pred & (lab == 1)).sum()
            fp += (pred & (lab == 0)).sum()
            fn += (~pred & (lab == 1)).sum()
        f = 2 * tp / (2 * tp + fp + fn)
        if f > best_f + 1e-12:
            best_f, best_t = f, t
    assert scores['ods'] == pytest.approx(100 * best_f, abs=0.01)
    assert scores['ods_threshold'] == pytest.approx(best_t, abs=1e-3)


def test_calibration_takes_the_best_scale_and_its_threshold(
        student, site, monkeypatch):
    model = init_crack_model(STUDENT, student)
    photos = load_site_photos(*site)
    result = choose_calibration(model, photos, scales=(0.5, 1.0, 2.0))
    assert {row['scale'] for row in result['table']} == {0.5, 1.0, 2.0}
    assert result['f'] == max(row['f'] for row in result['table'])
    assert model.data_preprocessor.test_scale == result['scale']
    probs = site_calibration.site_probabilities(
        model, [p.img for p in photos], result['scale'])
    again = map_scores(probs, [p.label for p in photos], 0.5)
    assert result['threshold'] == again['ods_threshold']
    # Equal F at every scale: the scale nearest 1 is kept.
    same = site_calibration.site_probabilities(
        model, [p.img for p in photos], 1.0)
    monkeypatch.setattr(site_calibration, 'site_probabilities',
                        lambda *args, **kwargs: same)
    assert choose_calibration(model, photos, (2.0, 0.5, 1.0))['scale'] == 1


def test_norm_stats_become_the_site_mean_of_what_the_layer_sees(
        student, site):
    model = init_crack_model(STUDENT, student)
    photos = load_site_photos(*site)
    # The first BatchNorm to run sees inputs that no other one changes.
    seen = []
    handles = [m.register_forward_hook(
        lambda module, inputs, output: seen.append(
            (module, inputs[0].mean(dim=(0, 2, 3)))))
        for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layers = reestimate_norm_stats(model, [p.img for p in photos])
    for handle in handles:
        handle.remove()
    first = seen[0][0]
    seen = [mean for module, mean in seen if module is first]
    assert len(seen) == len(photos)
    assert layers > 0 and not model.training and not first.training
    assert first.momentum == 0.1
    torch.testing.assert_close(first.running_mean,
                               torch.stack(seen).mean(0), atol=1e-5,
                               rtol=1e-4)
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and all('running_' in k or 'num_batches' in k
                           for k in changed)


def test_adapt_writes_the_calibration_and_leaves_the_source(
        student, site, tmp_path):
    source = digest(student)
    out = str(tmp_path / 'adapted.pth')
    record = adapt_to_site(STUDENT, student, out, *site, k=3, seed=1)
    assert digest(student) == source
    assert len(record['labelled']) == 3
    stored = read_calibration(out)
    step = record['steps'][0]
    assert (stored['threshold'], stored['scale']) == (step['threshold'],
                                                      step['scale'])
    model = init_crack_model(STUDENT, out)
    assert model.decode_head.threshold == stored['threshold']
    assert model.data_preprocessor.test_scale == stored['scale']


@pytest.mark.parametrize('case, message', [
    ('no_crack', 'holds a crack pixel'),
    ('mask_size', 'but image'),
    ('empty', 'no image'),
    ('too_many', 'cannot draw k=9'),
    ('scale', 'scale must be in'),
    ('no_masks', 'need both an image folder and a mask folder'),
    ('max_unlabelled', 'max_unlabelled must be >= 1, got 0'),
])
def test_bad_site_input_is_named_and_nothing_is_written(
        student, tmp_path, case, message):
    images, masks = write_site(tmp_path, 3, crack=case != 'no_crack')
    k, scales = (9 if case == 'too_many' else None), (1.0, )
    if case == 'mask_size':
        cv2.imwrite(osp.join(masks, 'p1.png'), np.zeros((10, 10), np.uint8))
    if case == 'empty':
        images = str(tmp_path / 'nothing')
        (tmp_path / 'nothing').mkdir()
    if case == 'scale':
        scales = (1.0, 8.0)
    if case == 'no_masks':
        masks = None
    extra = dict(unlabelled=images, max_unlabelled=0) \
        if case == 'max_unlabelled' else {}
    out = tmp_path / 'out.pth'
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        adapt_to_site(STUDENT, student, str(out), images, masks, k=k,
                      scales=scales, **extra)
    assert not out.exists()


def test_max_unlabelled_photos_drawn_with_the_seed_and_recorded(
        student, site, tmp_path):
    unlabelled, _ = write_site(tmp_path / 'unl', 6, seed=7)

    def adapt(seed, max_unlabelled):
        out = str(tmp_path / f'{seed}-{max_unlabelled}.pth')
        record = adapt_to_site(STUDENT, student, out, unlabelled=unlabelled,
                               seed=seed, max_unlabelled=max_unlabelled)
        meta = torch.load(out, weights_only=False)['meta']
        assert meta['site_adaptation'] == record
        stats = {key: value for key, value in torch.load(
            out, weights_only=False)['state_dict'].items()
            if key.endswith('running_mean')}
        assert stats
        return record, stats

    record, stats = adapt(1, 2)
    assert (record['unlabelled'], record['max_unlabelled']) == (2, 2)
    assert adapt(9, 10)[0]['unlabelled'] == 6  # the whole folder, recorded
    again = adapt(1, 2)[1]
    other = adapt(2, 2)[1]
    assert all(torch.equal(stats[key], again[key]) for key in stats)
    assert not all(torch.equal(stats[key], other[key]) for key in stats)


def test_distillation_reads_only_the_drawn_unlabelled_photos(site, tmp_path):
    from mmseg.registry import DATASETS
    from crackdino_mm.apis.site_finetune import finetune_config
    unlabelled, _ = write_site(tmp_path / 'unl', 5, seed=8)
    cfg = finetune_config(Config.fromfile(DISTILLER), 'unused.pth', *site,
                          ['p0'], 5, str(tmp_path / 'work'),
                          unlabelled=unlabelled, unlabelled_keys=['p1', 'p3'])
    photos = DATASETS.build(cfg.train_dataloader.dataset).datasets[1]
    assert [osp.basename(photos.get_data_info(i)['img_path'])
            for i in range(len(photos))] == ['p1.jpg', 'p3.jpg']


def test_finetuning_trains_the_last_blocks_and_not_the_first(
        student, site, tmp_path):
    out = str(tmp_path / 'tuned.pth')
    with pytest.warns(UserWarning, match='fine-tuning on 4 labelled photos'):
        record = adapt_to_site(STUDENT, student, out, *site,
                               finetune_iters=2, train_blocks=1,
                               scales=(1.0, ), work_dir=str(tmp_path / 'work'))
    assert [s['step'] for s in record['steps']] == [
        'calibration', 'finetune', 'threshold']
    assert record['steps'][1]['train_blocks'] == 1
    source = torch.load(student, weights_only=False)['state_dict']
    tuned = torch.load(out, weights_only=False)['state_dict']
    assert set(source) == set(tuned)
    assert torch.equal(source['backbone.layers.0.ffn.layers.1.weight'],
                       tuned['backbone.layers.0.ffn.layers.1.weight'])
    assert not torch.equal(source['backbone.layers.3.ffn.layers.1.weight'],
                           tuned['backbone.layers.3.ffn.layers.1.weight'])
    assert not torch.equal(source['decode_head.conv_seg.weight'],
                           tuned['decode_head.conv_seg.weight'])


def test_enough_photos_fine_tune_by_default_and_leave_no_run_behind(
        student, site, tmp_path, monkeypatch):
    """From ``MIN_FINETUNE_PHOTOS`` labelled photos the tool fine-tunes
    unless told not to; unlabelled photos beside a config without teachers
    then serve the norm statistics alone; the temporary run is removed."""
    from crackdino_mm.apis import adapt as adapt_module
    monkeypatch.setattr(adapt_module, 'MIN_FINETUNE_PHOTOS', 4)
    monkeypatch.setattr(adapt_module, 'FINETUNE_ITERS', 2)
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    monkeypatch.setattr('tempfile.tempdir', str(scratch))
    unlabelled, _ = write_site(tmp_path / 'unl', 2, seed=3)

    def steps(k, **options):
        record = adapt_to_site(STUDENT, student, str(tmp_path / 'out.pth'),
                               *site, k=k, scales=(1.0, ), **options)
        return {s['step']: s for s in record['steps']}

    tuned = steps(4, unlabelled=unlabelled)
    assert tuned['finetune']['iters'] == 2
    assert not tuned['finetune']['distillation'] and 'norm_stats' in tuned
    assert list(scratch.iterdir()) == []
    assert 'finetune' not in steps(3)
    assert 'finetune' not in steps(4, finetune_iters=0)


@pytest.mark.parametrize('train_blocks,trained,expected', [
    (None, 4, dict(frozen_stages=8)), (0, 0, dict(frozen=True)),
    (12, 12, dict(frozen_stages=0))])
def test_dinov2_blocks_to_train_default_to_the_last_four(
        train_blocks, trained, expected):
    model = dict(backbone=dict(type='DINOv2', arch='base'))
    assert freeze_backbone(model, train_blocks) == trained
    assert {k: v for k, v in model['backbone'].items()
            if k in ('frozen', 'frozen_stages')} == expected


def test_other_backbones_are_finetuned_whole_and_refuse_a_block_count():
    model = dict(backbone=dict(type='MixVisionTransformer', in_channels=3))
    assert freeze_backbone(model, None) == 'all'
    assert model['backbone'] == dict(type='MixVisionTransformer',
                                     in_channels=3, init_cfg=None)
    with pytest.raises(ValueError, match='MixVisionTransformer'):
        freeze_backbone(model, 0)
    with pytest.raises(ValueError, match=r'\[0, 12\]'):
        freeze_backbone(dict(backbone=dict(type='DINOv2')), 13)


def test_distillation_on_unlabelled_photos_trains_a_plain_student(
        student, site, tmp_path):
    unlabelled, _ = write_site(tmp_path / 'unl', 3, seed=5)
    distiller = Config.fromfile(DISTILLER)
    for teacher in distiller.model.teachers.values():
        teacher.allow_random_init = True
        teacher.backbone.init_cfg = None
    out = str(tmp_path / 'distilled.pth')
    work = tmp_path / 'work'
    record = adapt_to_site(STUDENT, student, out, *site,
                           unlabelled=unlabelled, finetune_iters=2,
                           distiller_config=distiller, scales=(1.0, ),
                           norm_stats=False, work_dir=str(work))
    assert record['steps'][1]['distillation'] and record['unlabelled'] == 3
    assert record['steps'][1]['train_blocks'] == 4  # the default, resolved
    log = next(work.rglob('*.log')).read_text()
    assert 'loss_distill_t0' in log
    tuned = torch.load(out, weights_only=False)['state_dict']
    assert not any(k.startswith('teacher') for k in tuned)
    init_crack_model(STUDENT, out)  # loads strictly as the plain student


def test_every_distillation_batch_holds_labelled_and_unlabelled_photos(
        site, tmp_path):
    """A batch of unlabelled photos only would leave the segmentation loss
    nothing to score; each batch is half labelled, half unlabelled."""
    from mmengine.runner import Runner
    from crackdino_mm.apis.site_finetune import finetune_config
    unlabelled, _ = write_site(tmp_path / 'unl', 30, seed=6)
    cfg = finetune_config(Config.fromfile(DISTILLER), 'unused.pth', *site,
                          ['p0', 'p1'], 5, str(tmp_path / 'work'),
                          unlabelled=unlabelled, batch_size=2)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    for batch, _ in zip(loader, range(12)):
        labels = [sample.gt_sem_seg.data for sample in batch['data_samples']]
        labelled = [bool((label != 255).any()) for label in labels]
        assert labelled == [True, True, False, False]


def test_cli_names_a_missing_folder_and_writes_the_out_config(
        student, site, tmp_path):
    tool = osp.join(REPO, 'tools', 'adapt.py')
    run = subprocess.run(
        [sys.executable, tool, STUDENT, student, '--images', 'nowhere',
         '--masks', site[1], '--out', str(tmp_path / 'a.pth')],
        capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2
    assert 'images nowhere does not exist' in run.stderr
    assert 'Traceback' not in run.stderr
    out_config = str(tmp_path / 'adapted.py')
    run = subprocess.run(
        [sys.executable, tool, STUDENT, student, '--images', site[0],
         '--masks', site[1], '--scales', '1', '1.5', '--out',
         str(tmp_path / 'a.pth'), '--out-config', out_config,
         '--unlabelled', site[0], '--max-unlabelled', '3'],
        capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    record = torch.load(str(tmp_path / 'a.pth'),
                        weights_only=False)['meta']['site_adaptation']
    assert (record['unlabelled'], record['max_unlabelled']) == (3, 3)
    stored = read_calibration(str(tmp_path / 'a.pth'))
    cfg = Config.fromfile(out_config)
    assert cfg.model.decode_head.threshold == stored['threshold']
    assert cfg.model.data_preprocessor.test_cfg.scale == stored['scale']


def shows_bar(text, bar, total, unit):
    """Whether ``text`` holds tqdm's finished ``bar`` with its rate."""
    done = [line for line in text.replace('\r', '\n').splitlines()
            if line.startswith(f'{bar}: 100%') and f'{total}/{total}' in line]
    return bool(done) and (f'{unit}/s' in done[-1] or f's/{unit}' in done[-1])


def test_cli_shows_progress_and_ends_with_its_choice_cost_and_commands(
        student, site, tmp_path, capsys):
    """Each long step has a bar with its rate; the end says what was
    chosen, what the scale costs, and the commands for the output."""
    unlabelled, _ = write_site(tmp_path / 'unl', 3, seed=5)
    out = str(tmp_path / 'a.pth')
    run = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'adapt.py'), STUDENT,
         student, '--images', site[0], '--masks', site[1], '--unlabelled',
         unlabelled, '--scales', '2', '--min-gain', '0', '--out', out],
        capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    assert shows_bar(run.stderr, 'calibration', 4, 'photo')
    assert shows_bar(run.stderr, 'norm statistics', 3, 'photo')
    with pytest.warns(UserWarning):
        adapt_to_site(STUDENT, student, str(tmp_path / 'b.pth'), *site,
                      finetune_iters=2, scales=(1.0, ),
                      work_dir=str(tmp_path / 'work'))
    assert shows_bar(capsys.readouterr().err, 'fine-tuning', 2, 'step')
    stored = read_calibration(out)
    assert stored['scale'] == 2.0
    assert f'decision threshold {stored["threshold"]}, test-time scale 2.0' \
        in run.stdout
    assert 'about 4 times as long' in run.stdout
    assert f'python tools/infer.py {STUDENT} {out} {unlabelled} ' in \
        run.stdout
    assert f'python tools/test.py {STUDENT} {out} --cfg-options' in run.stdout
