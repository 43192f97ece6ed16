from typing import List

import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ...utils import seg_logits_probability


@MODELS.register_module()
class CrackTTAModel(BaseTTAModel):
    """Test-time augmentation that averages crack probabilities once.

    Each view (``tta_pipeline``: flips, and ``Rot90`` quarter turns, which
    must come before the flips) goes through the wrapped segmentor's
    ``test_step``, which undoes the flip; this model then undoes the turn
    and averages the views' crack probabilities (``seg_logits_probability``:
    the sigmoid MMSeg already stores for a 1-channel head, where MMSeg's
    ``SegTTAModel`` would apply a second sigmoid and keep one view's
    ``seg_logits``). The merged sample holds the average in ``seg_logits``
    (1 channel: the probability, MMSeg's convention; 2 classes: the
    logarithms of both class probabilities, whose softmax is the average),
    so every metric
    reads the merged prediction, and ``pred_sem_seg`` at the decode head's
    ``threshold`` (or the argmax). Metainfo and ground truth come from the
    first view, which must be the unaugmented image.
    """

    def test_step(self, data):
        # A turned view of a non-square photo has the photo's sides swapped:
        # MMSeg resizes predictions to ``ori_shape``, so give it the view's.
        for view in data['data_samples']:
            for sample in view:
                if sample.metainfo.get('rot90', 0) % 2:
                    sample.set_metainfo(
                        dict(ori_shape=tuple(sample.ori_shape[::-1])))
        return super().test_step(data)

    def merge_preds(self, data_samples_list: List[List[SegDataSample]]
                    ) -> List[SegDataSample]:
        return [self._merge(views) for views in data_samples_list]

    def _merge(self, views: List[SegDataSample]) -> SegDataSample:
        first = views[0]
        if first.metainfo.get('rot90', 0) or first.metainfo.get('flip'):
            raise ValueError(
                'the first view of tta_pipeline must be the unaugmented '
                f'image (got rot90={first.metainfo.get("rot90", 0)}, '
                f'flip={first.metainfo.get("flip")})')
        total = 0.
        for view in views:
            prob = seg_logits_probability(view.seg_logits.data)
            total = total + torch.rot90(
                prob, -view.metainfo.get('rot90', 0), dims=(0, 1))
        prob = total / len(views)
        if first.seg_logits.data.shape[0] == 1:
            seg_logits = prob[None]
            pred = (seg_logits > self.module.decode_head.threshold).to(prob)
        else:
            seg_logits = torch.stack([1 - prob, prob]).clamp_min(
                torch.finfo(prob.dtype).tiny).log()
            pred = seg_logits.argmax(dim=0, keepdim=True)
        merged = SegDataSample(metainfo=first.metainfo)
        merged.seg_logits = PixelData(data=seg_logits)
        merged.pred_sem_seg = PixelData(data=pred)
        if 'gt_sem_seg' in first:
            merged.gt_sem_seg = first.gt_sem_seg
        return merged
