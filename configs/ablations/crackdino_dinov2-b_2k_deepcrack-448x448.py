# Ablation 4/4, full method: dual teachers + Lipschitz head.
_base_ = [
    '../_base_/models/crackdino_distiller.py',
    '../_base_/datasets/deepcrack.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
crop_size = (448, 448)
model = dict(data_preprocessor=dict(size=crop_size))
