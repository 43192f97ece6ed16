# SegFormer MiT-B0 baseline on DeepCrack (ImageNet-initialised encoder).
_base_ = [
    '../_base_/models/segformer_mit-b0.py', '../_base_/datasets/deepcrack.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
crop_size = (448, 448)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/'
            'pretrain/segformer/mit_b0_20220624-7e0fe6dd.pth')))
