# Ablation 1/4: student only, plain decoder.
_base_ = ['./crackdino-student-lipschitz_dinov2-b_2k_deepcrack-448x448.py']
model = dict(decode_head=dict(spectral_norm=False, gp_weight=0.0))
