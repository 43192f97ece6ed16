# Loss-form variant of the CPU-scale full method: the channel KL on the
# centred maps without L2 normalisation, so that the temperature and the
# features' norm change the loss (normalised, it is a scaled cosine loss
# for any T). Weight unchanged: its strength is to be measured
# (benchmarks/distill_grad_ratio.py), not assumed.
_base_ = ['./crackdino_vit-w192d12_1k_deepcrack-224x224.py']
model = dict(distill_loss=dict(normalize=False))
