# The demo schedule shortened to 300 iterations (the teachers' stage).
_base_ = ['./schedule_demo-400it.py']
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0,
         end=30),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=30,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
