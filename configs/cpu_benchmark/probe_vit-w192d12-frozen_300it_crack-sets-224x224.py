# CPU-scale diagnostic of the crack-transfer benchmark: how much of the
# crack sets a trained ViT-192/12 backbone still knows. The backbone, loaded
# from model.backbone.init_cfg.checkpoint (the base teacher's kept weights
# by default, or a DeepCrack student's checkpoint), is frozen; a fresh plain
# progressive decoder on its block 11 is trained on the four crack sets for
# 300 iterations and tested on their test splits. A student that kept its
# teacher's knowledge probes as well as the teacher, whatever its own
# DeepCrack-trained head does on those sets.
_base_ = ['./teacher-b_vit-w192d12_1k_crack-sets-224x224.py']
model = dict(
    backbone=dict(
        frozen=True,
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='benchmarks/results/crack_transfer_weights/'
            'teacher_base.pth',
            prefix='backbone.')))
max_iters = 300
warmup_iters = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(
    max_iters=max_iters, val_interval=max_iters, val_begin=max_iters + 1)
default_hooks = dict(checkpoint=dict(interval=max_iters))
