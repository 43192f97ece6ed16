# UNet baseline on DeepCrack, trained from scratch (no pretrained encoder),
# so the whole network uses the base learning rate.
_base_ = [
    '../_base_/models/fcn_unet_s5-d16.py', '../_base_/datasets/deepcrack.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
crop_size = (448, 448)
model = dict(
    data_preprocessor=dict(size=crop_size),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=128,
        in_index=3,
        channels=64,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=2,
        out_channels=1,
        threshold={{_base_.crack_threshold}},
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True,
                         class_weight=[4.0], loss_weight=0.4)))
optim_wrapper = dict(optimizer=dict(lr=1e-3), paramwise_cfg=dict(custom_keys={}))
