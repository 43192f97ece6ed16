# CPU-scale stage 1: the "large" teacher, twice as deep as the student (24
# blocks of width 192; a wider one would cost over 3x the student's step),
# trained from scratch on DeepCrack. Distilled at blocks 7, 15, 23, as
# DINOv2-L.
_base_ = ['./teacher-b_vit-w192d12_1k_deepcrack-224x224.py']
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=192, num_layers=24, num_heads=3,
                  feedforward_channels=768),
        out_indices=(23, )))
