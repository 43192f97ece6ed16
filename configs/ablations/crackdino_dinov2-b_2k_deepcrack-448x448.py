# Ablation 4/4, full method: dual teachers + Lipschitz head (the root
# config, under the ablations' naming).
_base_ = ['../crackdino_deepcrack.py']
