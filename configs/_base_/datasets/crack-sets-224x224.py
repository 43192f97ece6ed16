# Training on the union of the training splits of four public crack sets
# (Crack500, GAPs384, ShadowCrack, AigleRN-TRIMM: 6,770 crops of 121-240
# px, built by tools/dataset_converters/lmm_crack_sets.py into
# data/crack_sets/<set>/{train,valid,test}_{img,lab}). No DeepCrack image is
# among them. Crops keep their own scale, jittered by 0.75-1.5 (the short
# side 121-160 px becomes about 90-240); 224x224 crops of smaller images
# are padded by the data preprocessor with the ignore label, which the
# losses leave out. Testing is DeepCrack's (from deepcrack-224x224.py);
# any of the sets tests by setting test_dataloader.dataset.data_root to
# data/crack_sets/<set> (test_img/test_lab). A config that trains on them
# inherits a DeepCrack config and sets
# train_dataloader = dict(dataset={{_base_.crack_sets_train_dataset}}).
crack_sets = ['Crack500', 'GAPs384', 'ShadowCrack', 'AigleRN-TRIMM']
crack_sets_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(type='RandomResize', scale=(2048, 160), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(224, 224), cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
crack_sets_train_dataset = dict(
    _delete_=True,
    type='ConcatDataset',
    datasets=[
        dict(type='CrackFolderDataset',
             data_root='data/crack_sets/' + name,
             data_prefix=dict(img_path='train_img', seg_map_path='train_lab'),
             pipeline=crack_sets_train_pipeline) for name in crack_sets
    ])
