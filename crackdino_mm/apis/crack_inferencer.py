from typing import Optional

from mmseg.apis import MMSegInferencer

from .decision_threshold import check_threshold, meta_threshold, set_threshold


class CrackInferencer(MMSegInferencer):
    """``MMSegInferencer`` that uses the checkpoint's decision threshold.

    MMSeg's inferencer reads only the classes and palette from a
    checkpoint's meta; this one also applies ``meta['decision_threshold']``
    (written by ``tools/choose_threshold.py``) to the decode head, unless
    ``threshold`` is given. Everything else (inputs, visualisation,
    ``out_dir``, ``return_datasamples``) is MMSeg's.

    Args:
        threshold (float, optional): Decision threshold to use instead.
    """

    def __init__(self, model, weights: Optional[str] = None,
                 threshold: Optional[float] = None, **kwargs):
        self.threshold = None if threshold is None else check_threshold(
            threshold, 'CrackInferencer')
        super().__init__(model, weights, **kwargs)

    def _load_weights_to_model(self, model, checkpoint, cfg) -> None:
        super()._load_weights_to_model(model, checkpoint, cfg)
        threshold = self.threshold
        if threshold is None and checkpoint is not None:
            threshold = meta_threshold(checkpoint)
        if threshold is not None:
            set_threshold(model, threshold)
