# Mechanism test of distillation at CPU scale: the full method with a
# learned projection to the "large" teacher, but the student starts from
# random weights, so whatever it knows of the crack sets can only come
# through the distillation loss. The segmentation losses keep weight 1 so
# that its partner (crackdino-student-learnedproj-scratch) differs only by
# the distillation terms.
_base_ = ['./crackdino-learnedproj-l_vit-w192d12_1k_deepcrack-224x224.py']
model = dict(backbone=dict(init_cfg=None), seg_weight=1.0)
