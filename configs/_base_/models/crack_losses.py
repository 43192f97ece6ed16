# One decode loss for every model on the crack data, as the reference uses:
# crack-weighted binary cross-entropy (weight 4 on crack pixels) + soft Dice,
# on a 1-channel sigmoid output, thresholded at 0.5 as the reference. The
# BCE is averaged over labelled pixels only (avg_non_ignore): a batch padded
# to the crop size (seg_pad_val=255) would otherwise count its padding in
# the BCE's denominator, shrinking the BCE against the Dice term (which
# ignores padding) by the padded share.
crack_threshold = 0.5
crack_loss = [
    dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=[4.0],
         avg_non_ignore=True, loss_weight=1.0),
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
