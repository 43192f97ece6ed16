# CPU-scale baseline: the students' ViT-192/12 backbone, started from the
# stage-1 "base" teacher like them, in MMSeg's stock ViT recipe
# (MultiLevelNeck + UPerHead) instead of CAFM and the Lipschitz head.
_base_ = [
    '../_base_/models/upernet_dinov2-b.py', '../_base_/datasets/deepcrack-224x224.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_1k_adamw-cosine.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224), test_cfg=None),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(160, 160)),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=192, num_layers=12, num_heads=3,
                  feedforward_channels=768),
        img_size=224,
        drop_path_rate=0.0,
        init_cfg=dict(
            checkpoint='work_dirs/cpu_benchmark/teacher_base/iter_1000.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[192, 192, 192, 192], out_channels=192),
    decode_head=dict(in_channels=[192, 192, 192, 192], channels=128))
