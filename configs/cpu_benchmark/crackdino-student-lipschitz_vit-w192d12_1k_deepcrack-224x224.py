# CPU-scale ablation 2/4: student only (no teachers) + Lipschitz head.
_base_ = [
    '../_base_/models/crackdino_student_vit-w192d12.py',
    '../_base_/datasets/deepcrack-224x224.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_1k_adamw-cosine.py'
]
# Only the last block is fused: the student alone needs no other levels.
model = dict(backbone=dict(out_indices=(11, )), neck=dict(num_inputs=1))
