# CPU-scale stage 1: the "base" teacher, the student's ViT-192/12 with the
# plain progressive decoder, trained from scratch on DeepCrack. Its backbone
# teaches the students at blocks 3, 7, 11 and initialises them.
_base_ = [
    '../_base_/models/crackdino_student_vit-w192d12.py',
    '../_base_/datasets/deepcrack-224x224.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_1k_adamw-cosine.py'
]
model = dict(
    backbone=dict(out_indices=(11, ), init_cfg=None),
    neck=None,
    decode_head=dict(in_index=-1, spectral_norm=False, gp_weight=0.0))
