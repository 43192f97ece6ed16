# DeepLabV3+ R-50 baseline on DeepCrack (ImageNet-initialised ResNet-50).
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/deepcrack.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
crop_size = (448, 448)
model = dict(data_preprocessor=dict(size=crop_size))
