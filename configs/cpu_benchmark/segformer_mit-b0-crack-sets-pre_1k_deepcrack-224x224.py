# CPU-scale baseline fine-tuned on DeepCrack from its crack-set pre-training
# (segformer_mit-b0_1k_crack-sets-224x224.py): backbone initialised, head
# new, as the students start from the base teacher's backbone.
_base_ = ['./segformer_mit-b0_1k_deepcrack-224x224.py']
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/crack_transfer/segformer_pre/iter_1000.pth',
            prefix='backbone.')))
