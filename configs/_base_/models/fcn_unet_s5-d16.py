# UNet (5 stages, 1/16 bottleneck) with an FCN head: MMSeg's UNet baseline.
# Inputs must be multiples of 16 (DeepCrack's 544x384 are).
_base_ = ['./crack_losses.py']
model = dict(
    type='EncoderDecoder',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='UNet',
        in_channels=3,
        base_channels=64,
        num_stages=5,
        strides=(1, 1, 1, 1, 1),
        enc_num_convs=(2, 2, 2, 2, 2),
        dec_num_convs=(2, 2, 2, 2),
        downsamples=(True, True, True, True),
        enc_dilations=(1, 1, 1, 1, 1),
        dec_dilations=(1, 1, 1, 1),
        norm_cfg={{_base_.norm_cfg}},
        act_cfg=dict(type='ReLU'),
        upsample_cfg=dict(type='InterpConv'),
        norm_eval=False),
    decode_head=dict(
        type='FCNHead',
        in_channels=64,
        in_index=4,
        channels=64,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        num_classes=2,
        out_channels=1,
        threshold={{_base_.crack_threshold}},
        loss_decode={{_base_.crack_loss}}),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
