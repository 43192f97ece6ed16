# CPU recipe: fine-tune the demo's student on a folder of your own photos
# in minutes. It starts from the demo's trained student (load_from, written
# by `make demo`); to train from scratch instead, add
# `--cfg-options load_from=None` (expect far worse results from a few
# photos). The photos are paired with their masks by name, as
# CrackFolderDataset pairs them:
#   data/my_photos/train_img/*.jpg  data/my_photos/train_lab/*.png
#   data/my_photos/test_img/*.jpg   data/my_photos/test_lab/*.png
#   python tools/train.py THIS_CONFIG --work-dir work_dirs/my_photos_model
#   python tools/test.py THIS_CONFIG work_dirs/my_photos_model/iter_200.pth
_base_ = ['./crackdino-student_vit-t4_synthetic-224x224.py']
load_from = 'work_dirs/demo/student.pth'
crop_size = (224, 224)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(type='PackSegInputs'),
]
photos = dict(type='CrackFolderDataset', data_root='data/my_photos')
train_dataloader = dict(
    batch_size=4,
    dataset=dict(photos, _delete_=True, pipeline=train_pipeline,
                 data_prefix=dict(img_path='train_img',
                                  seg_map_path='train_lab')))
test_dataloader = dict(
    batch_size=1,
    dataset=dict(photos, _delete_=True, pipeline=test_pipeline,
                 data_prefix=dict(img_path='test_img',
                                  seg_map_path='test_lab')))
val_dataloader = test_dataloader
# A model that is already trained: a tenth of the demo's step size.
max_iters = 200
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = []
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
