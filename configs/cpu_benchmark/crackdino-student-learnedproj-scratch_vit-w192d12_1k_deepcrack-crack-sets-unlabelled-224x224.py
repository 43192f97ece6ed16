# crackdino-student-learnedproj-scratch with the crack sets' training images, unlabelled, mixed into
# its DeepCrack training data (half of the samples each: DeepCrack's 270
# training images repeated 25 times against 6,770 crack-set crops). Only
# distillation can learn from them; the pair with and without it sees the
# same images.
_base_ = [
    './crackdino-student-learnedproj-scratch_vit-w192d12_1k_deepcrack-224x224.py',
    '../_base_/datasets/crack-sets-unlabelled-224x224.py'
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type='RepeatDataset', times=25,
                 dataset={{_base_.train_dataloader.dataset}}),
            {{_base_.unlabelled_crack_sets_dataset}}
        ]))
