# Procedurally rendered cracks (no files needed). Samples come out already
# loaded: the dataset skips the loading transforms, which the test pipeline
# keeps so that MMSeg's inference_model/MMSegInferencer read photos with it.
dataset_type = 'SyntheticCrackDataset'
img_size = (224, 224)
crop_size = (224, 224)
train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(type='PackSegInputs'),
]
# Test-time augmentation (tools/test.py --tta): the orientations training
# showed (identity, horizontal and vertical flips, and their product, the
# 180-degree turn), probabilities averaged by CrackTTAModel. The first view
# must be the unaugmented image.
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Rot90', k=0), dict(type='Rot90', k=2)],
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
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        num_samples=400,
        img_size=img_size,
        seed=0,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        num_samples=50,
        img_size=img_size,
        seed=1,
        pipeline=test_pipeline))
# A third seed for testing, so that choices made on the validation split
# (e.g. the demo's decision threshold) are measured on unseen images.
test_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        num_samples=50,
        img_size=img_size,
        seed=2,
        pipeline=test_pipeline))
val_evaluator = dict(type='CrackMetric')
test_evaluator = val_evaluator
