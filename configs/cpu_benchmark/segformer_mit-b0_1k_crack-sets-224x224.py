# CPU-scale baseline pre-training: SegFormer MiT-B0 from scratch on four
# public crack sets (no DeepCrack image), as the "foundation" teachers are;
# its backbone then initialises the fine-tuned baseline.
_base_ = [
    './segformer_mit-b0_1k_deepcrack-224x224.py',
    '../_base_/datasets/crack-sets-224x224.py'
]
train_dataloader = dict(dataset={{_base_.crack_sets_train_dataset}})
