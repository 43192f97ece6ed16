# Ablation 3/4: dual teachers, plain decoder (no spectral normalisation,
# no gradient penalty).
_base_ = ['../crackdino_deepcrack.py']
model = dict(decode_head=dict(spectral_norm=False, gp_weight=0.0))
