# CPU-scale ablation 4/4, the full method: dual teachers + Lipschitz head.
_base_ = [
    '../_base_/models/crackdino_distiller_vit-w192d12.py',
    '../_base_/datasets/deepcrack-224x224.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_1k_adamw-cosine.py'
]
