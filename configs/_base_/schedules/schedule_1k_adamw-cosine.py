# The CPU-scale benchmark's one schedule for every entry: 1000 iterations
# at batch 8 (27 epochs of DeepCrack's 300 training images; about 15
# minutes for the ViT-192/12 student on 2 quiet CPU cores), AdamW with weight decay 0.01,
# linear warm-up then cosine decay and gradient clipping at 1.0, as the
# reference recipe. Differences from it: lr 5e-4 and no 0.1 backbone
# multiplier, because no entry starts from a converged foundation model
# (the teachers and the CNN baselines start from scratch, the students from
# a teacher trained as long), and so short a schedule needs the larger step.
_base_ = ['./schedule_2k_adamw-cosine.py']
max_iters = 1000
warmup_iters = 100
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=1.0))))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
# No evaluation during training: the final checkpoint is evaluated on the
# test split with tools/test.py (DeepCrack has no validation split; the
# decision threshold stays at 0.5).
train_cfg = dict(
    max_iters=max_iters, val_interval=max_iters, val_begin=max_iters + 1)
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
