# CPU-scale "foundation" teacher, base: the student's ViT-192/12 with the
# plain progressive decoder, trained from scratch on four public crack sets
# (no DeepCrack image). It stands in for DINOv2-B: knowledge the DeepCrack
# training images cannot teach.
_base_ = [
    './teacher-b_vit-w192d12_1k_deepcrack-224x224.py',
    '../_base_/datasets/crack-sets-224x224.py'
]
train_dataloader = dict(dataset={{_base_.crack_sets_train_dataset}})
