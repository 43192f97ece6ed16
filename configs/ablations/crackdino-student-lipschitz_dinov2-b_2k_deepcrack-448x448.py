# Ablation 2/4: student only (no teachers) + Lipschitz head.
_base_ = [
    '../_base_/models/crackdino_student.py',
    '../_base_/datasets/deepcrack.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
crop_size = (448, 448)
# Only the last block is fused: the student alone needs no other levels.
# Testing: sliding windows at the training crop over the image padded to a
# multiple of 14 (the padding is recorded and cropped off the prediction),
# so the ViT sees the input size and position grid it was trained on.
model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=14)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(336, 336)),
    backbone=dict(out_indices=(11, )),
    neck=dict(num_inputs=1))
