# The CPU-scale CrackDINO student: a DINOv2-architecture ViT of width 192
# and 12 blocks (patch 14, ViT-Ti/14) read at blocks 3, 7, 11 as DINOv2-B
# is, CAFM into the two CPU-scale teachers' spaces (both of width 192) and
# a narrower Lipschitz head. It starts from the stage-1 "base"
# teacher's backbone, as the method's student starts from DINOv2-B.
_base_ = ['./crackdino_student.py']
teacher_dir = 'work_dirs/cpu_benchmark'
# Trained and tested on 224x224 crops: sliding windows of 224 (stride 160)
# over the image, which needs no padding (every window is 16x16 patches).
model = dict(
    data_preprocessor=dict(size=(224, 224), test_cfg=None),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(160, 160)),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=192, num_layers=12, num_heads=3,
                  feedforward_channels=768),
        img_size=224,
        drop_path_rate=0.0,
        init_cfg=dict(
            checkpoint=teacher_dir + '/teacher_base/iter_1000.pth',
            prefix='backbone.')),
    neck=dict(in_channels=192, branch_channels=(192, 192), out_channels=192),
    # The recorded CPU-scale runs trained with the gradient penalty on.
    decode_head=dict(
        in_channels=192, decoder_channels=(128, 64, 32, 32), gp_weight=0.05,
        gp_interval=4))
