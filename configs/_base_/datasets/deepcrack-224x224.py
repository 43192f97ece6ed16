# DeepCrack with 224x224 training crops (the CPU-scale benchmark). The 237
# test images keep their own size; each benchmark config predicts them with
# 224x224 sliding windows (stride 160, 6 per image), so a ViT sees the
# position-embedding grid and the unpadded input it was trained on (whole
# 544x384 images would need 8 padding rows, and a false crack appeared along
# that edge).
_base_ = ['./deepcrack.py']
crop_size = (224, 224)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(type='RandomResize', scale=(544, 384), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=0.5),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
