# CPU-scale baseline: MMSeg's UNet (5 stages, 1/16 bottleneck) at base
# width 16 (a quarter of the original) with its FCN head and auxiliary
# head, from scratch.
_base_ = [
    '../_base_/models/fcn_unet_s5-d16.py',
    '../_base_/datasets/deepcrack-224x224.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_1k_adamw-cosine.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(160, 160)),
    backbone=dict(base_channels=16),
    decode_head=dict(in_channels=16, channels=16),
    auxiliary_head=dict(in_channels=32, channels=16))
