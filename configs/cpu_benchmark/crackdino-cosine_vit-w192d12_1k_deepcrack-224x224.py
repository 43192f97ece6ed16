# CPU-scale full method with cosine distillation instead of channel KL, its
# weight calibrated to the same backbone-gradient strength (see
# benchmarks/distill_grad_ratio.py and crackdino_distiller_vit-w192d12.py).
_base_ = ['./crackdino_vit-w192d12_1k_deepcrack-224x224.py']
model = dict(
    distill_loss=dict(_delete_=True, type='CosineDistillLoss',
                      loss_weight=0.068))
