"""MMSeg's inferencer over the deployable, calibrated crack model."""
import os
import os.path as osp
from typing import Optional

import cv2
import numpy as np
from mmseg.apis import MMSegInferencer

from ..utils import check_scale, check_threshold
from .model_loader import init_crack_model


class CrackInferencer(MMSegInferencer):
    """``MMSegInferencer`` over the deployable model, calibrated.

    The model comes from ``init_crack_model``: a distiller's student alone,
    strictly loaded, with the checkpoint's decision threshold and test-time
    scale unless ``threshold``/``scale`` are given. Masks written to
    ``pred_out_dir`` are named after their photo (``IMG_0001_pred.png``;
    arrays given in memory keep a running number) and hold 0/255, the
    project's mask encoding. Everything else (inputs, visualisation,
    ``return_datasamples``) is MMSeg's.

    Args:
        model (str | Config): The config or its file, as
            ``MMSegInferencer`` takes it.
        weights (str, optional): The checkpoint. Defaults to None: weights
            as the config initialises them.
        threshold (float, optional): Decision threshold in (0, 1) to use
            instead of the checkpoint's. Defaults to None.
        scale (float, optional): Test-time input scale in [0.25, 4] to use
            instead of the checkpoint's. Defaults to None.
        **kwargs: Passed on to ``MMSegInferencer`` (``device``,
            ``classes``, ``palette``, ...).

    Raises:
        ValueError: If ``threshold`` or ``scale`` is out of range, or the
            checkpoint does not fit the model.
    """

    def __init__(self, model, weights: Optional[str] = None,
                 threshold: Optional[float] = None,
                 scale: Optional[float] = None, **kwargs):
        self.calibration = dict(
            threshold=None if threshold is None else check_threshold(
                threshold, 'CrackInferencer'),
            scale=None if scale is None else check_scale(
                scale, 'CrackInferencer'))
        self.num_written = 0
        super().__init__(model, weights, **kwargs)

    def _init_model(self, cfg, weights: Optional[str], device: str = 'cpu'):
        return init_crack_model(cfg, weights, device, **self.calibration)

    def postprocess(self, preds, visualization, return_datasample=False,
                    pred_out_dir: str = ''):
        """Write each predicted mask to ``pred_out_dir`` as 0/255, named
        after its photo, then pack the results as MMSeg does.

        Args:
            preds (list[SegDataSample]): The model's predictions.
            visualization (list[np.ndarray], optional): The rendered
                pictures, or None.
            return_datasample (bool): Return the data samples themselves.
                Defaults to False.
            pred_out_dir (str): Folder of the masks (made if missing);
                empty for none. Defaults to ``''``.

        Returns:
            dict | SegDataSample | list[SegDataSample]: What
            ``MMSegInferencer.postprocess`` returns: ``predictions`` and
            ``visualization``, or the data samples.
        """
        if pred_out_dir:
            os.makedirs(pred_out_dir, exist_ok=True)
            for pred in preds:
                path = pred.metainfo.get('img_path')
                stem = osp.splitext(osp.basename(path))[0] if isinstance(
                    path, str) else f'{self.num_written:08d}'
                mask = pred.pred_sem_seg.data[0].cpu().numpy()
                cv2.imwrite(osp.join(pred_out_dir, f'{stem}_pred.png'),
                            (mask > 0).astype(np.uint8) * 255)
                self.num_written += 1
        return super().postprocess(preds, visualization, return_datasample)
