# Diagnostic of the CPU-scale full method: the student's maps reach the
# "large" teacher through a learned 1x1 projection, as a ViT-B student's
# reach DINOv2-L (768 -> 1024) at full size, instead of the identity that
# equal widths (192 = 192) give. The base teacher's branch stays identity,
# as at full size (768 = 768). Distillation weight unchanged.
_base_ = ['./crackdino_vit-w192d12_1k_deepcrack-224x224.py']
model = dict(neck=dict(learned_branches=(0, )))
