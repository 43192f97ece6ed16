# Deployment of the distilled student: a plain EncoderDecoder that loads
# the checkpoint written by tools/export_student.py with strict keys and
# runs no teacher. (The projections of blocks 3 and 7 are only used in
# distillation; they are kept so the keys match.)
#   python tools/export_student.py \
#       work_dirs/crackdino_deepcrack/iter_2000.pth work_dirs/student.pth \
#       --config configs/crackdino_deepcrack.py
#   python tools/test.py THIS_CONFIG work_dirs/student.pth
_base_ = [
    './_base_/models/crackdino_student.py', './_base_/datasets/deepcrack.py',
    './_base_/default_runtime.py',
    './_base_/schedules/schedule_2k_adamw-cosine.py'
]
# Testing: sliding windows at the training crop over the image padded to a
# multiple of 14 (the padding is recorded and cropped off the prediction),
# so the ViT sees the input size and position grid it was trained on.
crop_size = (448, 448)
model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=14)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(336, 336)),
    backbone=dict(init_cfg=None))
