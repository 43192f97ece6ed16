# Demo stage 1: a small DINOv2-architecture "base" teacher (width 64, 4
# blocks) trained from scratch on synthetic cracks. Its backbone both
# teaches the student and initialises it, as DINOv2-B does in the method.
_base_ = [
    '../_base_/models/crackdino_student.py',
    '../_base_/datasets/synthetic_crack.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_demo-300it.py'
]
# Whole images (the synthetic ones are 224x224), padded to a multiple of 14.
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    test_cfg=dict(_delete_=True, mode='whole'),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=4, num_heads=2,
                  feedforward_channels=256),
        img_size=224,
        out_indices=(1, 2, 3),
        drop_path_rate=0.0,
        init_cfg=None),
    neck=None,
    decode_head=dict(
        in_channels=64, in_index=-1, decoder_channels=(64, 32, 32, 16),
        gp_interval=4))
