# Partner of crackdino-learnedproj-l-scratch without distillation: the same
# student (random ViT-192/12, CAFM with a learned branch 0, Lipschitz head)
# trained on DeepCrack labels alone.
_base_ = [
    '../_base_/models/crackdino_student_vit-w192d12.py',
    '../_base_/datasets/deepcrack-224x224.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_1k_adamw-cosine.py'
]
model = dict(backbone=dict(init_cfg=None), neck=dict(learned_branches=(0, )))
