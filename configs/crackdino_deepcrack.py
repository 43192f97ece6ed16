# CrackDINO on DeepCrack, the full method: DINOv2-B student, DINOv2-L and
# DINOv2-B teachers, CAFM neck, Lipschitz head; the reference optimiser
# (AdamW, backbone lr 1e-5, rest 1e-4, weight decay 0.01, warm-up + cosine,
# gradient clipping 1.0), 448x448 crops, batch 8, 2k iterations.
# Same as ablations/crackdino_dinov2-b_2k_deepcrack-448x448.py.
_base_ = ['./ablations/crackdino_dinov2-b_2k_deepcrack-448x448.py']
