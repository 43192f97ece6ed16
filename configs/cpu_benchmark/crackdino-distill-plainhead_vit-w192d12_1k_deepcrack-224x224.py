# CPU-scale ablation 3/4: dual teachers, plain decoder.
_base_ = ['./crackdino_vit-w192d12_1k_deepcrack-224x224.py']
model = dict(decode_head=dict(spectral_norm=False, gp_weight=0.0))
