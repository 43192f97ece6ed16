# CPU-scale diagnostic of the crack-transfer benchmark: ablation 3/4 (dual
# teachers, plain decoder) with the channel-KL weight 10x its calibrated
# value, so that the distillation gradient on the student backbone roughly
# equals the segmentation gradient in training instead of being a tenth of
# it. It tells whether the distillation can hold the teachers' knowledge at
# all when it is strong, not a recipe to use.
_base_ = ['./crackdino-distill-plainhead_vit-w192d12_1k_deepcrack-224x224.py']
model = dict(distill_loss=dict(loss_weight=130.0))
