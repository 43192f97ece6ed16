# Demo stage 1: a wider and deeper DINOv2-architecture "large" teacher
# (width 96, 6 blocks), trained from scratch on synthetic cracks.
_base_ = ['./teacher-b_vit-t4_300it_synthetic-224x224.py']
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=96, num_layers=6, num_heads=3,
                  feedforward_channels=384),
        out_indices=(1, 3, 5)),
    decode_head=dict(in_channels=96))
