# DINOv2-B/14 with MMSeg's multi-level neck (x4, x2, x1, x0.5 rescaling of
# blocks 3, 5, 7 and 11) and UPerHead: the stock ViT segmentation recipe on
# DINOv2 features.
_base_ = ['./dinov2_crack.py']
model = dict(
    type='EncoderDecoder',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='DINOv2',
        arch='dinov2_vitb14',
        out_indices=(3, 5, 7, 11),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/dinov2_vitb14_pretrain.pth')),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[768, 768, 768, 768],
        out_channels=768,
        scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        num_classes=2,
        out_channels=1,
        threshold={{_base_.crack_threshold}},
        loss_decode={{_base_.crack_loss}}),
    train_cfg=dict(),
    test_cfg={{_base_.dinov2_test_cfg}})
