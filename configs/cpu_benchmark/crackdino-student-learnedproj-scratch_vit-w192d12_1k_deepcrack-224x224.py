# Partner of crackdino-learnedproj-l-scratch without distillation: the same
# student (random ViT-192/12, CAFM with a learned branch 0, Lipschitz head)
# trained on DeepCrack labels alone.
_base_ = [
    '../_base_/models/crackdino_student_vit-w192d12.py',
    '../_base_/datasets/deepcrack-224x224.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_1k_adamw-cosine.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(160, 160)),
    backbone=dict(init_cfg=None),
    neck=dict(learned_branches=(0, )))
