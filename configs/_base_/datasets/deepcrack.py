# DeepCrack, official split: 300 training and 237 test images (544x384,
# some portrait). Validation (threshold choice, model selection) uses 30 of
# the 300 training images, held out from training: whole source photos
# (every crop of a photo goes to one side), drawn with seed 0 and listed in
# splits/deepcrack_val30.txt; training uses the other 270
# (splits/deepcrack_train270.txt). The 237 test images are only tested. Masks are 0/255 on disk; LoadCrackAnnotations maps them
# to 0/1 (255 is MMSeg's ignore index). Training: random rescale, square
# crops, rot-90 + flips, photometric jitter; testing: the images at their
# original size (the DINOv2 configs predict them by 448x448 sliding windows
# after padding them to a multiple of 14, recorded and cropped off).
dataset_type = 'DeepCrackDataset'
data_root = 'data/DeepCrack'
crop_size = (448, 448)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(type='RandomResize', scale=(544, 384), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    # Background is ~97 % of every crop, so a class-share cap below 1
    # would only cost ten rejected crops per sample.
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    # Square crops: rot-90 by k plus a flip on a random axis, then a
    # horizontal flip, reach all eight orientations.
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=0.5),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(type='PackSegInputs'),
]
# Test-time augmentation (tools/test.py --tta): the eight orientations that
# training's rot-90 + flips show (quarter turns, each with and without a
# horizontal flip), probabilities averaged by CrackTTAModel. Odd turns swap
# the sides of a 544x384 photo; the model predicts the turned view at its
# own shape and the prediction is turned back. The first view must be the
# unaugmented image. Eight forward passes per image.
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Rot90', k=k) for k in range(4)],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='PackSegInputs',
                  meta_keys=('img_path', 'seg_map_path', 'ori_shape',
                             'img_shape', 'pad_shape', 'scale_factor',
                             'flip', 'flip_direction', 'rot90'))],
        ]),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train_img', seg_map_path='train_lab'),
        ann_file='{{fileDirname}}/splits/deepcrack_train270.txt',
        pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test_img', seg_map_path='test_lab'),
        pipeline=test_pipeline))
# Validation (threshold choice, model selection): the 30 held-out training
# images, read as the test images are.
val_dataloader = dict(
    test_dataloader,
    dataset=dict(
        test_dataloader['dataset'],
        data_prefix=dict(img_path='train_img', seg_map_path='train_lab'),
        ann_file='{{fileDirname}}/splits/deepcrack_val30.txt'))
val_evaluator = dict(type='CrackMetric')
test_evaluator = val_evaluator
