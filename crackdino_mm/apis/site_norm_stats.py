"""Label-free adaptation: the BatchNorm statistics of the neck and head
re-estimated on a site's photos."""
from typing import Sequence

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm
from tqdm import tqdm

from .crack_predictor import CrackPredictor

#: The parts whose normalisation statistics follow the site (the ViT's
#: LayerNorms have none).
NORM_PARTS = ('backbone', 'neck', 'decode_head')


def reestimate_norm_stats(model, images: Sequence[np.ndarray],
                          parts: Sequence[str] = NORM_PARTS,
                          progress: bool = False, **predictor_args) -> int:
    """Replace the running mean and variance of every BatchNorm in
    ``parts`` by their average over ``images``, seen as the model predicts
    them (its test-time scale, whole or in windows). Weights are kept.

    Args:
        model (torch.nn.Module): A segmentor from ``init_crack_model``;
            its BatchNorms are changed in place and left in eval mode.
        images (Sequence[np.ndarray]): BGR photos of the site.
        parts (Sequence[str]): The model's attributes whose BatchNorms
            follow the site; missing ones are skipped. Defaults to
            ``NORM_PARTS``.
        progress (bool): Show a bar over the images, with their rate.
            Defaults to False.
        **predictor_args: Passed on to ``CrackPredictor`` (``crop_size``,
            ``stride``, ...).

    Returns:
        int: How many layers were re-estimated (0: nothing to adapt).
    """
    norms = [module for part in parts if getattr(model, part, None)
             for module in getattr(model, part).modules()
             if isinstance(module, _BatchNorm) and module.track_running_stats]
    if not norms:
        return 0
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over all images
        norm.train()
    predictor = CrackPredictor(model, **predictor_args)
    try:
        with torch.no_grad():
            for img in tqdm(images, desc='norm statistics', unit='photo',
                            disable=not progress):
                predictor.probability(img)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
            norm.eval()
    return len(norms)
