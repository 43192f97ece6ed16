"""An adapted checkpoint predicts the same mask, at its stored threshold and
test-time scale, in every consumer (tools/test.py, tools/infer.py,
CrackInferencer, init_crack_model, MMSeg's init_model/inference_model
through ``--out-config``, the ONNX export) for one shipped config of every
family, at scale 1 and at scale 2; and the README's new-site commands run
as written."""
import json
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmseg.apis import inference_model, init_model

from crackdino_mm.apis import CrackInferencer, init_crack_model
from crackdino_mm.utils import read_calibration
from script_modules import script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SIZE = 112  # a multiple of 14 (ViT patches) and 16 (UNet), as is 2 * SIZE
#: One shipped config per family, and the overrides that make it small
#: enough for a test (only the DINOv2-B student needs any); and a config
#: that is no part of the project.
FAMILIES = {
    'demo': ('configs/demo/crackdino-student_vit-t4_synthetic-224x224.py',
             ''),
    'cpu-distiller':
    ('configs/cpu_benchmark/crackdino_vit-w192d12_1k_deepcrack-224x224.py',
     ''),
    'cpu-student': ('configs/cpu_benchmark/'
                    'crackdino-student-lipschitz_vit-w192d12_1k_deepcrack-'
                    '224x224.py', ''),
    'segformer':
    ('configs/cpu_benchmark/segformer_mit-b0_1k_deepcrack-224x224.py', ''),
    'unet':
    ('configs/cpu_benchmark/fcn_unet-s5-d16-w16_1k_deepcrack-224x224.py', ''),
    'deeplabv3plus':
    ('configs/cpu_benchmark/deeplabv3plus_r18-d8_1k_deepcrack-224x224.py', ''),
    'dinov2-student':
    ('configs/crackdino-distilled-student_dinov2-b_2k_deepcrack-448x448.py',
     "model = dict(backbone=dict(arch=dict(_delete_=True, embed_dims=64, "
     "num_layers=4, num_heads=2, feedforward_channels=128), "
     "out_indices=(1, 2, 3)), neck=dict(in_channels=64, branch_channels="
     "(96, 64), out_channels=64), decode_head=dict(in_channels=64, "
     "decoder_channels=(64, 32, 32, 16)))\n"),
    # A user's own MMSeg config: MMSeg's types only, no import of this
    # package, MMSeg's IoUMetric.
    'mmseg-own': (None, """default_scope = 'mmseg'
crop_size = (112, 112)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='MixVisionTransformer', embed_dims=16, num_layers=[1, 1, 1, 1],
        num_heads=[1, 2, 5, 8], sr_ratios=[8, 4, 2, 1], mlp_ratio=2),
    decode_head=dict(
        type='SegformerHead', in_channels=[16, 32, 80, 128],
        in_index=[0, 1, 2, 3], channels=32, num_classes=2, out_channels=1,
        threshold=0.5, loss_decode=dict(type='CrossEntropyLoss',
                                        use_sigmoid=True)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
test_evaluator = dict(type='IoUMetric')
test_cfg = dict(type='TestLoop')
visualizer = dict(type='SegLocalVisualizer', name='visualizer',
                  vis_backends=[dict(type='LocalVisBackend')])
"""),
}


def write_photos(root, count=2, size=(SIZE, SIZE)):
    """``count`` grey photos with a dark crack line, and their masks."""
    rng = np.random.default_rng(0)
    for folder in ('img', 'lab'):
        (root / folder).mkdir(parents=True)
    for i in range(count):
        img = rng.integers(110, 200, (*size, 3), dtype=np.uint8)
        mask = np.zeros(size, np.uint8)
        x = int(rng.integers(20, size[1] - 40))
        cv2.line(mask, (x, 0), (x + 25, size[0] - 1), 255, 3)
        img[mask > 0] = 50
        cv2.imwrite(str(root / 'img' / f'p{i}.png'), img)
        cv2.imwrite(str(root / 'lab' / f'p{i}.png'), mask)
    return sorted((root / 'img').glob('*.png'))


def spread_checkpoint(config, photo, path):
    """Seeded random weights whose crack probabilities spread over (0, 1)
    on ``photo`` (a random head's stay near one value): the classifier
    scaled up, its bias set so that its median logit is 0."""
    torch.manual_seed(0)
    model = init_crack_model(config)
    classifier = model.decode_head.conv_seg
    logits = []
    hook = classifier.register_forward_hook(
        lambda module, inputs, output: logits.append(output.flatten()))
    with torch.no_grad():
        classifier.weight *= 30
        classifier.bias *= 30
        inference_model(model, str(photo))
        classifier.bias -= torch.cat(logits).median()
    hook.remove()
    # As a trained checkpoint, it names its classes.
    meta = dict(dataset_meta=dict(classes=('background', 'crack'),
                                  palette=[[0, 0, 0], [255, 64, 0]]))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp('site'))


def write_config(root, family, site):
    """The family's config, testing on the photos of ``site``."""
    shipped, text = FAMILIES[family]
    if shipped:  # the project's test set replaced
        text = (f'_base_ = [{osp.join(REPO, shipped)!r}]\n{text}'
                'test_dataloader = dict(num_workers=0, persistent_workers='
                'False, dataset=dict(_delete_=True, '
                "type='CrackFolderDataset', data_root="
                f"{str(site)!r}, data_prefix=dict(img_path='img', "
                "seg_map_path='lab'), pipeline=[dict(type='LoadImageFromFile'"
                "), dict(type='LoadCrackAnnotations'), "
                "dict(type='PackSegInputs')]))\n")
    else:  # MMSeg's own dataset
        text += ("test_dataloader = dict(batch_size=1, num_workers=0, "
                 "sampler=dict(type='DefaultSampler', shuffle=False), "
                 "dataset=dict(type='BaseSegDataset', data_root="
                 f"{str(site)!r}, data_prefix=dict(img_path='img', "
                 "seg_map_path='lab'), img_suffix='.png', seg_map_suffix="
                 "'.png', metainfo=dict(classes=('background', 'crack')), "
                 'pipeline=test_pipeline))\n')
    config = str(root / 'config.py')
    with open(config, 'w') as f:
        f.write(text)
    return config


@pytest.fixture(scope='module', params=sorted(FAMILIES))
def source(request, photos, tmp_path_factory):
    """A config of the family (the shipped one, testing on the site's
    photos) and a checkpoint of it."""
    root = tmp_path_factory.mktemp(request.param)
    config = write_config(root, request.param, photos[0].parent.parent)
    checkpoint = str(root / 'source.pth')
    spread_checkpoint(config, photos[0], checkpoint)
    return dict(config=config, checkpoint=checkpoint, root=root)


def label_like_the_model(source, photos, scale, folder):
    """Site masks that the source model finds at ``scale`` above its
    median probability: a random model's best threshold on real cracks
    would mark every pixel, and a mask of all pixels cannot tell scales
    apart."""
    folder.mkdir()
    model = init_crack_model(source['config'], source['checkpoint'],
                             scale=scale)
    for photo in photos:
        prob = inference_model(model, str(photo)).seg_logits.data[0]
        cv2.imwrite(str(folder / photo.name),
                    (prob > prob.median()).numpy().astype(np.uint8) * 255)
    return str(folder)


def mask_of(sample):
    return sample.pred_sem_seg.data[0].numpy() > 0


def consumer_masks(config, adapted, out_config, photos, work):
    """Each consumer's masks of ``photos``, by consumer."""
    stems = [p.stem for p in photos]
    masks = {}
    test_tool = script_module('tools/test.py')
    test_tool.main([config, adapted, '--work-dir', str(work / 'test'),
                    '--out', str(work / 'test_masks')])
    masks['tools/test.py'] = [
        cv2.imread(str(work / 'test_masks' / f'{s}.png'), 0) > 0
        for s in stems]
    assert script_module('tools/infer.py').main(
        [config, adapted, str(photos[0].parent), '--out-dir',
         str(work / 'infer')]) == 0
    masks['tools/infer.py'] = [
        cv2.imread(str(work / 'infer' / 'masks' / f'{s}.png'), 0) > 0
        for s in stems]
    inferencer = CrackInferencer(config, adapted, device='cpu')
    inferencer([str(p) for p in photos], out_dir=str(work / 'inferencer'))
    masks['CrackInferencer'] = [
        cv2.imread(str(work / 'inferencer' / 'pred' / f'{s}_pred.png'), 0) > 0
        for s in stems]
    model = init_model(out_config, adapted, 'cpu')
    masks['init_model(--out-config)'] = [
        mask_of(inference_model(model, str(p))) for p in photos]
    onnx_file = str(work / 'model.onnx')
    assert script_module('tools/export_onnx.py').main(
        [config, adapted, '--out', onnx_file, '--shape', str(SIZE),
         str(SIZE)]) == 0
    import onnxruntime
    session = onnxruntime.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    images = np.stack([cv2.imread(str(p)).transpose(2, 0, 1)
                       for p in photos]).astype(np.float32)
    masks['ONNX'] = list(session.run(['crack_mask'],
                                     {'image': images})[0][:, 0] > 0)
    return masks


@pytest.mark.parametrize('scale', [1.0, 2.0])
def test_every_consumer_predicts_at_the_stored_calibration(
        source, photos, scale, tmp_path):
    labels = label_like_the_model(source, photos, scale, tmp_path / 'lab')
    adapted, out_config = str(tmp_path / 'site.pth'), str(tmp_path / 'site.py')
    assert script_module('tools/adapt.py').main(
        [source['config'], source['checkpoint'], '--images',
         str(photos[0].parent), '--masks', labels, '--scales', str(scale),
         '--min-gain', '0', '--out', adapted, '--out-config',
         out_config]) == 0
    stored = read_calibration(adapted)
    assert stored['scale'] == scale
    # The reference: the deployable model at the stored calibration ...
    model = init_crack_model(source['config'], adapted)
    assert model.decode_head.threshold == stored['threshold']
    assert model.data_preprocessor.test_scale == scale
    results = [inference_model(model, str(p)) for p in photos]
    expected = [mask_of(r) for r in results]
    undecided = [np.abs(r.seg_logits.data[0].numpy() - stored['threshold'])
                 < 1e-3 for r in results]
    # ... which another scale or threshold would change.
    assert any(0 < m.mean() < 1 for m in expected)
    for other in (dict(scale=2.0 if scale == 1 else 1.0),
                  dict(threshold=0.9 if stored['threshold'] < 0.5 else 0.1)):
        other = init_crack_model(source['config'], adapted, **other)
        assert any((mask_of(inference_model(other, str(p))) != m).any()
                   for p, m in zip(photos, expected))
    masks = consumer_masks(source['config'], adapted, out_config, photos,
                           tmp_path)
    for consumer, found in masks.items():
        for mask, want, near in zip(found, expected, undecided):
            assert mask.shape == want.shape, consumer
            wrong = (mask != want) & ~near
            assert not wrong.any(), (
                f'{consumer}: {wrong.sum()} pixels differ from the mask at '
                f'threshold {stored["threshold"]}, scale {scale}')


def readme_new_site_commands():
    """The commands of the README's new-site section, one string each
    (continuation lines joined, comments dropped)."""
    with open(osp.join(REPO, 'README.md')) as f:
        text = f.read()
    section = text.split('### A new site', 1)[1]
    block = section.split('```bash\n', 1)[1].split('```', 1)[0]
    block = re.sub(r'\\\n\s*', '', block)
    return [line for line in block.splitlines() if line.startswith('python ')]


def test_readme_new_site_commands_run_as_written(tmp_path):
    """The README's commands, only the site's paths replaced: adapting the
    ready CPU model, then testing and inferring with the adapted
    checkpoint, both at its stored calibration."""
    write_photos(tmp_path / 'site')
    shutil.copytree(tmp_path / 'site' / 'img',
                    tmp_path / 'site' / 'new_photos')
    shutil.copytree(tmp_path / 'site' / 'img',
                    tmp_path / 'site_test' / 'test_img')
    shutil.copytree(tmp_path / 'site' / 'lab',
                    tmp_path / 'site_test' / 'test_lab')
    commands = readme_new_site_commands()
    assert [c.split()[1] for c in commands] == [
        'tools/adapt.py', 'tools/test.py', 'tools/infer.py']
    logs = []
    for command in commands:
        command = re.sub(r'(?<![\w/])(site/|site_test|work_dirs/)',
                         f'{tmp_path}/\\1', command)
        run = subprocess.run([sys.executable, *shlex.split(command)[1:]],
                             capture_output=True, text=True, cwd=REPO)
        assert run.returncode == 0, (command, run.stderr[-3000:])
        logs.append(run.stdout + run.stderr)
    stored = read_calibration(str(tmp_path / 'work_dirs' / 'site.pth'))
    assert (f"decision threshold {stored['threshold']}, test-time scale "
            f"{stored['scale']}") in logs[1]  # tools/test.py
    assert sorted(p.name for p in (tmp_path / 'work_dirs' / 'site_report' /
                                   'masks').iterdir()) == ['p0.png', 'p1.png']


@pytest.fixture(scope='module', params=['cpu-distiller', 'segformer'])
def adapted_at_two(request, photos, tmp_path_factory):
    """A shipped config adapted at scale 2, testing on one large photo
    (448x336: sliding windows at either scale)."""
    root = tmp_path_factory.mktemp(f'{request.param}-large')
    large = write_photos(root / 'large', count=1, size=(336, 448))
    config = write_config(root, request.param, large[0].parent.parent)
    checkpoint = str(root / 'source.pth')
    spread_checkpoint(config, photos[0], checkpoint)
    source = dict(config=config, checkpoint=checkpoint)
    labels = label_like_the_model(source, photos, 2.0, root / 'lab')
    adapted = str(root / 'site.pth')
    assert script_module('tools/adapt.py').main(
        [config, checkpoint, '--images', str(photos[0].parent), '--masks',
         labels, '--scales', '2', '--min-gain', '0', '--out',
         adapted]) == 0
    return dict(source, adapted=adapted, large=large, root=root,
                stored=read_calibration(adapted))


def test_large_photos_infer_as_the_test_tool_predicts(adapted_at_two,
                                                      tmp_path):
    """tools/infer.py (CrackPredictor's windows) and tools/test.py (MMSeg's
    slide inference) give a large photo the same mask at the stored
    calibration; TTA runs at it too."""
    config, adapted = adapted_at_two['config'], adapted_at_two['adapted']
    stem = adapted_at_two['large'][0].stem
    test_tool = script_module('tools/test.py')
    test_tool.main([config, adapted, '--work-dir', str(tmp_path / 'test'),
                    '--out', str(tmp_path / 'test_masks')])
    assert script_module('tools/infer.py').main(
        [config, adapted, str(adapted_at_two['large'][0]), '--out-dir',
         str(tmp_path / 'infer')]) == 0
    model = init_crack_model(config, adapted)
    prob = inference_model(model, str(adapted_at_two['large'][0])
                           ).seg_logits.data[0].numpy()
    near = np.abs(prob - adapted_at_two['stored']['threshold']) < 1e-3
    tested = cv2.imread(str(tmp_path / 'test_masks' / f'{stem}.png'), 0)
    inferred = cv2.imread(str(tmp_path / 'infer' / 'masks' / f'{stem}.png'),
                          0)
    assert 0 < (tested > 0).mean() < 1
    assert not ((tested != inferred) & ~near).any()
    test_tool.main([config, adapted, '--tta', '--work-dir',
                    str(tmp_path / 'tta'), '--out',
                    str(tmp_path / 'tta_masks')])
    assert (tmp_path / 'tta_masks' / f'{stem}.png').exists()


def test_robustness_scores_at_the_stored_calibration(adapted_at_two,
                                                     tmp_path):
    """tools/robustness.py scores the adapted checkpoint as the source one
    given its calibration explicitly, and not as at scale 1."""
    robustness = script_module('tools/robustness.py')
    stored = adapted_at_two['stored']

    def counts(checkpoint, *options):
        out = str(tmp_path / f'{len(options)}.json')
        assert robustness.main(
            [adapted_at_two['config'], checkpoint, '--eps', '1', '--attack',
             'fgsm', '--out', out, *options]) == 0
        with open(out) as f:
            result = json.load(f)
        return result['scale'], result['image_counts']['clean']

    scale, adapted = counts(adapted_at_two['adapted'])
    assert scale == 2.0
    assert (scale, adapted) == counts(
        adapted_at_two['checkpoint'], '--threshold',
        str(stored['threshold']), '--scale', '2')
    assert counts(adapted_at_two['adapted'], '--scale', '1')[1] != adapted
