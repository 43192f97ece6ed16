# UNet baseline on DeepCrack, trained from scratch (no pretrained encoder),
# so the whole network uses the base learning rate.
_base_ = [
    '../_base_/models/fcn_unet_s5-d16.py', '../_base_/datasets/deepcrack.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_2k_adamw-cosine.py'
]
crop_size = (448, 448)
# Whole photos are padded to a multiple of 16 (the UNet's downsampling),
# recorded and cropped off the prediction.
model = dict(data_preprocessor=dict(size=crop_size,
                                    test_cfg=dict(size_divisor=16)))
optim_wrapper = dict(optimizer=dict(lr=1e-3), paramwise_cfg=dict(custom_keys={}))
