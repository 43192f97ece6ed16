# Ablation 2/4: student only (no teachers) + Lipschitz head, on the root
# config's data, schedule and test-time windows.
_base_ = [
    '../_base_/models/crackdino_student.py',
    '../_base_/datasets/deepcrack.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
# Only the last block is fused: the student alone needs no other levels.
model = dict(backbone=dict(out_indices=(11, )), neck=dict(num_inputs=1))
