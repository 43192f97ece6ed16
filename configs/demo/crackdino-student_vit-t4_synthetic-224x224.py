# The demo's deployable student (what tools/export_student.py writes a
# checkpoint for): the tiny DINOv2 backbone, CAFM into the two teachers'
# widths (96 and 64) and the Lipschitz head. Also the student-only model.
_base_ = [
    '../_base_/models/crackdino_student.py',
    '../_base_/datasets/synthetic_crack.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_demo-400it.py'
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
    neck=dict(in_channels=64, branch_channels=(96, 64), out_channels=64),
    decode_head=dict(
        in_channels=64, decoder_channels=(64, 32, 32, 16), gp_interval=4))
