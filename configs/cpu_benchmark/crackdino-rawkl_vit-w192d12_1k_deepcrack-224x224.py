# Loss-form variant of the CPU-scale full method: the channel KL on the
# centred maps without L2 normalisation, so that the temperature and the
# features' norm change the loss (normalised, it is a scaled cosine loss
# for any T). At weight 13 its step-0 gradient ratio on the kept weights
# is 83 (`crack_transfer_cpu.py measure`); weight 0.057 gives the 0.36 of
# the normalised KL arm, so the two differ in form, not in strength.
_base_ = ['./crackdino_vit-w192d12_1k_deepcrack-224x224.py']
model = dict(distill_loss=dict(normalize=False, loss_weight=0.057))
