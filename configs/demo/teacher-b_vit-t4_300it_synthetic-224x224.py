# Demo stage 1: a small DINOv2-architecture "base" teacher (width 64, 4
# blocks) trained from scratch on synthetic cracks: the demo student's
# backbone and head without the CAFM neck, for 300 iterations. Its backbone
# both teaches the student and initialises it, as DINOv2-B does in the
# method.
_base_ = ['./crackdino-student_vit-t4_synthetic-224x224.py']
model = dict(neck=None, decode_head=dict(in_index=-1))
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0,
         end=30),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=30,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
