# CPU-scale "foundation" teacher, large: 24 blocks of width 192, trained
# from scratch on four public crack sets (no DeepCrack image); stands in for
# DINOv2-L, distilled at blocks 7, 15, 23.
_base_ = [
    './teacher-l_vit-w192d24_1k_deepcrack-224x224.py',
    '../_base_/datasets/crack-sets-224x224.py'
]
train_dataloader = dict(dataset={{_base_.crack_sets_train_dataset}})
