# CPU-scale baseline: SegFormer MiT-B0 (already small), from scratch.
_base_ = [
    '../_base_/models/segformer_mit-b0.py', '../_base_/datasets/deepcrack-224x224.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_1k_adamw-cosine.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(160, 160)))
