# What the DINOv2 crack models share: the crack losses and their test-time
# prediction. Testing slides windows of the 448x448 training crop (stride
# 336) over the image padded to a multiple of 14 (the padding is recorded
# and cropped off the prediction), so the ViT sees the input size and the
# position grid it was trained on. Models trained on other crops set their
# own windows.
_base_ = ['./crack_losses.py']
data_preprocessor = dict(size=(448, 448), test_cfg=dict(size_divisor=14))
dinov2_test_cfg = dict(mode='slide', crop_size=(448, 448), stride=(336, 336))
