# Ablation 4/4, full method: dual teachers + Lipschitz head.
_base_ = [
    '../_base_/models/crackdino_distiller.py',
    '../_base_/datasets/deepcrack.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
crop_size = (448, 448)
# Testing: sliding windows at the training crop over the image padded to a
# multiple of 14 (the padding is recorded and cropped off the prediction),
# so the ViT sees the input size and position grid it was trained on.
model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=14)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(336, 336)))
