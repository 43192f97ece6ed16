# One decode loss for every model on the crack data, as the reference uses:
# crack-weighted binary cross-entropy (weight 4 on crack pixels) + soft Dice,
# on a 1-channel sigmoid output, thresholded at 0.5 as the reference.
crack_threshold = 0.5
crack_loss = [
    dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=[4.0],
         loss_weight=1.0),
    dict(type='BinaryDiceLoss', loss_weight=1.0),
]
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
norm_cfg = dict(type='BN', requires_grad=True)
