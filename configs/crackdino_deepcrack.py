# CrackDINO on DeepCrack, the full method and the root of its configs: the
# DINOv2-B student distilled from frozen DINOv2-L and DINOv2-B teachers,
# CAFM neck, Lipschitz head; the reference optimiser (AdamW, backbone lr
# 1e-5, rest 1e-4, weight decay 0.01, warm-up + cosine, gradient clipping
# 1.0), 448x448 crops, batch 8, 2k iterations. Tested by 448x448 sliding
# windows over the image padded to a multiple of 14 (_base_/models/
# dinov2_crack.py). The ablations (configs/ablations/) vary it.
_base_ = [
    './_base_/models/crackdino_distiller.py',
    './_base_/datasets/deepcrack.py', './_base_/default_runtime.py',
    './_base_/schedules/schedule_2k_adamw-cosine.py'
]
