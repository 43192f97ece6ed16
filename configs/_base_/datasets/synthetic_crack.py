# Procedurally rendered cracks (no files needed). Samples come out already
# loaded, so the pipelines start with augmentation.
dataset_type = 'SyntheticCrackDataset'
img_size = (224, 224)
crop_size = (224, 224)
train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [dict(type='PackSegInputs')]
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
