# Ablation 2/4: student only (no teachers) + Lipschitz head.
_base_ = [
    '../_base_/models/crackdino_student.py',
    '../_base_/datasets/deepcrack.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
crop_size = (448, 448)
# Only the last block is fused: the student alone needs no other levels.
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(out_indices=(11, )),
    neck=dict(num_inputs=1))
