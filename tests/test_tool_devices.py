"""Tools run on an accelerator as on the CPU. No GPU here, so the model
runs on PyTorch's data-less 'meta' device standing in for one: an
operation that mixes a meta tensor with a CPU tensor raises, as between a
CUDA and a CPU tensor, and explicit copies to the host give zeros."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import MODELS
from torch.overrides import TorchFunctionMode

from crackdino_mm.apis import (CrackPredictor, PixelSpaceAttack,
                               evaluate_attacks)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

CONFIG = osp.join(REPO, 'configs', 'demo',
                  'teacher-b_vit-t4_300it_synthetic-224x224.py')
SIZE = 56


def on_meta(tensor) -> bool:
    return isinstance(tensor, torch.Tensor) and tensor.is_meta


class MetaAccelerator(TorchFunctionMode):
    """Copies of meta tensors to the host (``.cpu()``, ``.to('cpu')``,
    ``.numpy()``, ``.item()``, ``.tolist()``, ``bool()``/``float()``/
    ``int()``) give zeros instead of failing; everything else runs as
    PyTorch runs it on 'meta'."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if args and on_meta(args[0]):
            tensor = args[0]
            if func is torch.Tensor.cpu:
                return torch.zeros(tensor.shape, dtype=tensor.dtype)
            if func is torch.Tensor.to:
                device, dtype, *_ = torch._C._nn._parse_to(*args[1:],
                                                           **kwargs)
                if device is not None and torch.device(device).type == 'cpu':
                    return torch.zeros(tensor.shape,
                                       dtype=dtype or tensor.dtype)
            if func is torch.Tensor.numpy:
                return np.zeros(tensor.shape,
                                torch.empty((), dtype=tensor.dtype).numpy()
                                .dtype)
            if func in (torch.Tensor.item, torch.Tensor.__float__,
                        torch.Tensor.__int__, torch.Tensor.__index__):
                return tensor.new_zeros((), device='cpu').item()
            if func is torch.Tensor.__bool__:
                return False
            if func is torch.Tensor.tolist:
                return torch.zeros(tensor.shape, dtype=tensor.dtype).tolist()
        return func(*args, **kwargs)


@pytest.fixture(scope='module')
def model_and_data():
    cfg = Config.fromfile(CONFIG)
    cfg.model.data_preprocessor.size = (SIZE, SIZE)
    cfg.model.backbone.img_size = SIZE
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    test = cfg.test_dataloader
    test.update(num_workers=0, persistent_workers=False)
    test.dataset.update(img_size=(SIZE, SIZE), num_samples=2)
    return model, Runner.build_dataloader(test)


def test_meta_accelerator_catches_a_device_mix_up():
    """The stand-in is strict: a CPU tensor meeting a model output raises."""
    with MetaAccelerator():
        logits = torch.zeros(1, 1, 4, 4, device='meta')
        labels = torch.zeros(1, 4, 4)
        with pytest.raises(RuntimeError, match='device'):
            logits[:, 0] - labels
        assert logits.cpu().sum() == 0  # explicit copies are fine


def test_robustness_runs_on_the_accelerator(model_and_data):
    """Attacks (labels, noise, steps) and their evaluation with the model
    on the accelerator and the data loader's tensors on the CPU."""
    model, loader = model_and_data
    model = model.to('meta')
    for param in model.parameters():
        param.requires_grad_(False)
    attack = PixelSpaceAttack(model, steps=2)
    with MetaAccelerator():
        data = next(iter(loader))
        pixels = torch.stack(data['inputs'])
        for method in ('fgsm', 'pgd'):
            adv = attack(pixels, data['data_samples'], 4.0, method)
            assert adv.is_meta and adv.shape == pixels.shape
        results, _ = evaluate_attacks(model, loader,
                                      dict(type='CrackMetric'), attack,
                                      [4], ['pgd'])
    assert set(results) == {'clean', 'pgd_eps4'}


@pytest.mark.parametrize('mode', ['slide', 'whole'])
def test_infer_runs_on_the_accelerator(model_and_data, mode):
    """A photo predicted as tools/infer.py predicts it (CrackPredictor): by
    batches of sliding windows (logits on the accelerator, their sum on the
    CPU) or whole through the model's test_step."""
    model, _ = model_and_data
    model = model.to('meta')
    cfg = Config.fromfile(CONFIG)
    cfg.model.test_cfg = dict(mode=mode, crop_size=(SIZE, SIZE),
                              stride=(28, 28))
    model.cfg = cfg  # what init_model attaches
    predictor = CrackPredictor(model, batch_size=2)
    img = np.random.default_rng(0).integers(0, 256, (70, 90, 3), np.uint8)
    with MetaAccelerator():
        prob = predictor.probability(img)
    assert prob.shape == (70, 90) and prob.dtype == np.float32
