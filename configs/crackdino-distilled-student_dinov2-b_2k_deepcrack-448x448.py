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
model = dict(backbone=dict(init_cfg=None))
