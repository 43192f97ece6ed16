"""The command-line tools on real configs: train, resume, test, and MMSeg's
own tools shipped inside its wheel."""
import glob
import os
import os.path as osp
import subprocess
import sys

import cv2
import mmseg
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MMSEG_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')
TEACHER_CFG = osp.join(REPO, 'configs', 'demo',
                       'teacher-b_vit-t4_300it_synthetic-224x224.py')
# Two iterations on a few small images: enough to exercise every stage.
TINY = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'default_hooks.checkpoint.interval=1', 'param_scheduler=[]',
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.num_samples=4',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'val_dataloader.dataset.num_samples=2',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'test_dataloader.dataset.num_samples=2'
]


def run(args, cwd=REPO, env=None):
    proc = subprocess.run([sys.executable, *args],
                          cwd=cwd,
                          capture_output=True,
                          text=True,
                          env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def top_level_configs():
    configs = glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                        recursive=True)
    return sorted(c for c in configs if '_base_' not in c)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('train'))
    log = run([
        osp.join(REPO, 'tools', 'train.py'), TEACHER_CFG, '--work-dir',
        work_dir, '--cfg-options', *TINY
    ])
    return work_dir, log


def test_train_writes_checkpoints_and_validates(trained):
    work_dir, log = trained
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert 'Iter(val)' in log


def test_resume_continues_from_last_checkpoint(trained, tmp_path):
    work_dir, _ = trained
    resumed = str(tmp_path / 'resumed')
    os.makedirs(resumed)
    for name in ('iter_2.pth', 'last_checkpoint'):
        src = osp.join(work_dir, name)
        text = open(src, 'rb').read()
        if name == 'last_checkpoint':
            text = osp.join(resumed, 'iter_2.pth').encode()
        open(osp.join(resumed, name), 'wb').write(text)
    tiny = [o for o in TINY if not o.startswith('train_cfg.max_iters')]
    log = run([
        osp.join(REPO, 'tools', 'train.py'), TEACHER_CFG, '--work-dir',
        resumed, '--resume', '--cfg-options', 'train_cfg.max_iters=3', *tiny
    ])
    assert 'resumed' in log.lower() or 'Load checkpoint' in log
    assert osp.isfile(osp.join(resumed, 'iter_3.pth'))
    assert 'Iter(train) [3/3]' in log or osp.isfile(
        osp.join(resumed, 'iter_3.pth'))


def test_test_tool_writes_masks_and_pictures(trained, tmp_path):
    """--out and --show-dir on crack photos on disk (DeepCrack layout);
    an init_cfg checkpoint that is not there does not matter to a test,
    whose weights all come from the checkpoint tested."""
    work_dir, _ = trained
    data = tmp_path / 'data'
    run([osp.join(REPO, 'tools', 'make_synthetic_dataset.py'), '--out',
         str(data), '--num-train', '1', '--num-test', '2', '--size', '112',
         '140'])
    cfg = Config.fromfile(TEACHER_CFG)
    cfg.test_dataloader = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets',
                 'deepcrack.py')).test_dataloader
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset.data_root = str(data)
    cfg.model.backbone.init_cfg = dict(type='Pretrained',
                                       checkpoint='nowhere/teacher.pth')
    config = tmp_path / 'on_disk.py'
    cfg.dump(str(config))
    out, show = tmp_path / 'out', tmp_path / 'show'
    log = run([
        osp.join(REPO, 'tools', 'test.py'), str(config),
        osp.join(work_dir, 'iter_2.pth'), '--work-dir',
        str(tmp_path / 'w'), '--out',
        str(out), '--show-dir',
        str(show)
    ])
    assert 'Iter(test) [2/2]' in log and 'crack_iou' in log
    masks = sorted(out.glob('*.png'))
    assert [m.name for m in masks] == ['00000.png', '00001.png']
    assert set(np.unique(cv2.imread(str(masks[0]), 0))) <= {0, 255}
    assert len(list(show.rglob('*.png'))) == 2


def test_mmseg_stock_train_runs_on_project_config(tmp_path):
    log = run([
        osp.join(MMSEG_TOOLS, 'train.py'), TEACHER_CFG, '--work-dir',
        str(tmp_path), '--cfg-options', *TINY
    ])
    assert osp.isfile(osp.join(tmp_path, 'iter_2.pth')), log[-2000:]


def point_at_written_data(dataset, root, deepcrack_root):
    """Points each folder dataset of a (nested) training set at one drawn
    crack written under root, DeepCrack at its real folder (skip without
    it); synthetic sets need no folder."""
    if dataset.type == 'ConcatDataset':
        for part in dataset.datasets:
            point_at_written_data(part, root, deepcrack_root)
    elif dataset.type == 'RepeatDataset':
        point_at_written_data(dataset.dataset, root, deepcrack_root)
    elif osp.basename(dataset.get('data_root') or '') == 'DeepCrack':
        if deepcrack_root is None:
            pytest.skip('DeepCrack is not available')
        dataset.data_root = deepcrack_root
    elif dataset.get('data_root'):
        dataset.data_root = str(root / osp.basename(dataset.data_root))
        prefix = dataset.data_prefix
        for name in 'ab':
            write_crack_pair(osp.join(dataset.data_root, prefix.img_path),
                             osp.join(dataset.data_root,
                                      prefix.get('seg_map_path') or 'unused'),
                             name)


def built_leaves(dataset):
    """The folder datasets inside mmengine's dataset wrappers."""
    inner = getattr(dataset, 'datasets', None) or (
        [dataset.dataset] if hasattr(dataset, 'times') else None)
    if inner is None:
        return [dataset]
    return [leaf for part in inner for leaf in built_leaves(part)]


@pytest.mark.parametrize(
    'config', top_level_configs(), ids=lambda c: osp.relpath(c, REPO))
def test_every_config_loads_and_reads_its_training_data(
        config, tmp_path, deepcrack_root_or_none):
    """Each config imports the plugin and builds its training set, whose
    samples (the first of each folder in it) pair an image with a 0/1/255
    label of its size."""
    cfg = Config.fromfile(config)
    assert 'crackdino_mm' in cfg.custom_imports.imports
    train_set = cfg.train_dataloader.dataset
    point_at_written_data(train_set, tmp_path / 'data',
                          deepcrack_root_or_none)
    leaves = built_leaves(DATASETS.build(train_set))
    for leaf in leaves:
        sample = leaf[0]
        label = sample['data_samples'].gt_sem_seg.data
        assert sample['inputs'].shape[-2:] == label.shape[-2:]
        assert set(label.unique().tolist()) <= {0, 1, 255}


# One config of each folder and kind (a stock tool run costs 15 s).
STOCK_TOOL_CONFIGS = [
    osp.join(REPO, 'configs', name) for name in [
        'crackdino_deepcrack.py',
        'ablations/crackdino-student-plainhead_dinov2-b_2k_'
        'deepcrack-448x448.py',
        'baselines/segformer_mit-b0_2k_deepcrack-448x448.py',
        'cpu_benchmark/crackdino_vit-w192d12_1k_deepcrack-224x224.py',
        'demo/crackdino-student_vit-t4_200it_own-photos-224x224.py',
        'demo/crackdino_vit-t4_500it_synthetic-224x224.py',
    ]
]


@pytest.mark.parametrize('config', STOCK_TOOL_CONFIGS,
                         ids=lambda c: osp.relpath(c, REPO))
def test_mmseg_print_config_and_browse_dataset(config, tmp_path,
                                               deepcrack_root_or_none):
    # print_config also saves the config as ./example.py: run it elsewhere.
    printed = run([osp.join(MMSEG_TOOLS, 'misc', 'print_config.py'), config],
                  cwd=str(tmp_path))
    assert 'custom_imports' in printed and 'crackdino_mm' in printed
    cfg = Config.fromfile(config)
    point_at_written_data(cfg.train_dataloader.dataset, tmp_path / 'data',
                          deepcrack_root_or_none)
    on_disk = tmp_path / 'config.py'
    cfg.dump(str(on_disk))
    # browse_dataset draws the training set: two samples are enough.
    run([
        osp.join(MMSEG_TOOLS, 'misc', 'browse_dataset.py'), str(on_disk),
        '--not-show', '--output-dir',
        str(tmp_path / 'shown'), '--cfg-options',
        'train_dataloader.dataset.indices=2'
    ])
    pictures = [p for p in (tmp_path / 'shown').rglob('*')
                if p.suffix in ('.png', '.jpg')]
    assert len(pictures) == 2


def write_crack_pair(img_dir, lab_dir, name, size=(160, 180)):
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(lab_dir, exist_ok=True)
    mask = np.zeros(size, np.uint8)
    mask[70:74, 10:170] = 255
    image = np.full((*size, 3), 150, np.uint8)
    image[mask > 0] = 40
    cv2.imwrite(osp.join(img_dir, f'{name}.jpg'), image)
    cv2.imwrite(osp.join(lab_dir, f'{name}.jpg'), mask)


def test_a_missing_checkpoint_is_one_message_before_the_environment(
        tmp_path):
    """A config whose checkpoint does not exist names it, its key and the
    command that makes it, before mmengine logs anything."""
    config = osp.join(REPO, 'configs', 'cpu_benchmark',
                      'crackdino-student-plainhead_vit-w192d12_1k_'
                      'deepcrack-224x224.py')
    run = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
         '--work-dir', str(tmp_path)], capture_output=True, text=True,
        cwd=str(tmp_path))
    assert run.returncode == 1
    assert 'work_dirs/cpu_benchmark/teacher_base/iter_1000.pth' in run.stderr
    assert 'model.backbone.init_cfg.checkpoint' in run.stderr
    assert 'python benchmarks/deepcrack_cpu.py train --only teacher_base' \
        in run.stderr
    assert 'System environment' not in run.stdout + run.stderr
    assert 'Traceback' not in run.stderr


def test_a_test_run_needs_only_the_checkpoint_it_tests(tmp_path):
    from crackdino_mm.utils import MissingConfigFile, check_config_files
    cfg = Config(dict(model=dict(backbone=dict(init_cfg=dict(
        type='Pretrained', checkpoint='nowhere/init.pth'))),
        load_from=str(tmp_path / 'missing.pth')))
    with pytest.raises(MissingConfigFile, match='nowhere/init.pth'):
        check_config_files(cfg)
    with pytest.raises(MissingConfigFile, match='missing.pth') as error:
        check_config_files(cfg, init_checkpoints=False)
    assert 'nowhere/init.pth' not in str(error.value)
    cfg.load_from = None
    check_config_files(cfg, init_checkpoints=False)


@pytest.mark.parametrize('command', [
    ['-c', 'import crackdino_mm'],
    [osp.join(REPO, 'tools', 'infer.py'), '--help'],
    [osp.join(REPO, 'tools', 'train.py'), '--help'],
])
def test_no_third_party_noise_before_what_the_user_asked(command):
    run = subprocess.run([sys.executable, *command], capture_output=True,
                         text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    for noise in ('Could not import OneDL', 'MultiScaleDeformableAttention'):
        assert noise not in run.stdout + run.stderr


OWN_PHOTOS = osp.join(REPO, 'configs', 'demo',
                      'crackdino-student_vit-t4_200it_own-photos-224x224.py')


def own_photo_folders(root):
    rng = np.random.default_rng(0)
    for split in ('train', 'test'):
        os.makedirs(osp.join(root, f'{split}_img'))
        os.makedirs(osp.join(root, f'{split}_lab'))
        for i in range(2):
            img = rng.integers(100, 200, (150, 180, 3), dtype=np.uint8)
            mask = np.zeros((150, 180), np.uint8)
            mask[70:73, :] = 255
            img[mask > 0] = 30
            cv2.imwrite(osp.join(root, f'{split}_img', f'p{i}.jpg'), img)
            cv2.imwrite(osp.join(root, f'{split}_lab', f'p{i}.png'), mask)


def test_the_own_photos_recipe_starts_from_the_demo_student(tmp_path):
    from mmseg.registry import MODELS
    demo = str(tmp_path / 'work_dirs' / 'demo' / 'student.pth')
    os.makedirs(osp.dirname(demo))
    own_photo_folders(str(tmp_path / 'data' / 'my_photos'))
    train = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
             OWN_PHOTOS, '--work-dir', str(tmp_path / 'run'),
             '--cfg-options', 'train_cfg.max_iters=2',
             'train_cfg.val_interval=2',
             'default_hooks.checkpoint.interval=2',
             'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False',
             'val_dataloader.num_workers=0',
             'val_dataloader.persistent_workers=False']
    missing = subprocess.run(train, capture_output=True, text=True,
                             cwd=str(tmp_path))
    assert missing.returncode == 1 and 'make demo' in missing.stderr
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(OWN_PHOTOS).model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), demo)
    done = subprocess.run(train, capture_output=True, text=True,
                          cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    log = open(glob.glob(str(tmp_path / 'run' / '*' / '*.log'))[0]).read()
    assert 'Load checkpoint from work_dirs/demo/student.pth' in log
    assert 'crack_iou' in log
    assert osp.isfile(tmp_path / 'run' / 'iter_2.pth')
