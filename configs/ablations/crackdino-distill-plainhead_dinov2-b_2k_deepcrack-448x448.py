# Ablation 3/4: dual teachers, plain decoder (no spectral normalisation,
# no gradient penalty).
_base_ = ['./crackdino_dinov2-b_2k_deepcrack-448x448.py']
model = dict(decode_head=dict(spectral_norm=False, gp_weight=0.0))
