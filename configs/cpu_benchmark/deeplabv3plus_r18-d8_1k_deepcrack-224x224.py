# CPU-scale baseline: DeepLabV3+ on ResNet-18 (v1c, output stride 8) with
# MMSeg's R-18 head widths, from scratch.
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8.py', '../_base_/datasets/deepcrack-224x224.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_1k_adamw-cosine.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(160, 160)),
    pretrained=None,
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128, c1_in_channels=64,
                     c1_channels=12))
