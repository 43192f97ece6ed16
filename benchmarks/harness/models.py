"""Models as the studies use them: a config's deployable model with
trained weights, its prediction on one image, and synthetic batches for
timing and gradient measurements."""
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from crackdino_mm.apis import init_crack_model


def build_deployable(config, checkpoint):
    """A config's deployable model (a distiller's student alone) with a
    checkpoint's weights loaded with strict keys and its calibration, in
    eval mode."""
    return init_crack_model(config, checkpoint, cfg_options={
        'model.backbone.init_cfg': None})


def predict(model, img):
    """Crack mask (0/1) of a BGR image, at its own size."""
    height, width = img.shape[:2]
    sample = SegDataSample(metainfo=dict(
        ori_shape=(height, width), img_shape=(height, width),
        pad_shape=(height, width)))
    inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    with torch.no_grad():
        result = model.test_step(dict(inputs=[inputs],
                                      data_samples=[sample]))[0]
    return result.pred_sem_seg.data[0].numpy().astype(np.uint8)


def synthetic_batch(batch_size, size, rng):
    """A training batch of random pixels with about 3 % crack labels."""
    samples = []
    for _ in range(batch_size):
        label = torch.from_numpy(rng.random((1, size, size)) < 0.03).long()
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=(size, size),
                                 pad_shape=(size, size),
                                 ori_shape=(size, size)))
        samples.append(sample)
    inputs = [
        torch.from_numpy(rng.integers(0, 256, (3, size, size), np.uint8))
        for _ in range(batch_size)
    ]
    return dict(inputs=inputs, data_samples=samples)
