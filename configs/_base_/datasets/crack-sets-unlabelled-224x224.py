# The training images of the four public crack sets (6,770 crops) without
# their masks: LoadCrackAnnotations labels every pixel 255, so segmentation
# losses skip them and only feature losses (distillation) learn from them.
# A config mixes them into its own training data with
# {{_base_.unlabelled_crack_sets_dataset}}.
unlabelled_crack_sets_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations', unlabelled_as_ignored=True),
    dict(type='RandomResize', scale=(2048, 160), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(224, 224), cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
unlabelled_crack_sets_dataset = dict(
    type='ConcatDataset',
    datasets=[
        dict(type='CrackFolderDataset',
             data_root='data/crack_sets/' + name,
             data_prefix=dict(img_path='train_img', seg_map_path=None),
             pipeline=unlabelled_crack_sets_pipeline)
        for name in ['Crack500', 'GAPs384', 'ShadowCrack', 'AigleRN-TRIMM']
    ])
