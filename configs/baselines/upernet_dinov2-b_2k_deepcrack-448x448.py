# DINOv2-B/14 with MMSeg's UPerHead on DeepCrack: the project's backbone in
# the stock ViT recipe, without CAFM, Lipschitz head or teachers.
_base_ = [
    '../_base_/models/upernet_dinov2-b.py', '../_base_/datasets/deepcrack.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
