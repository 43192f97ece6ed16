"""Export a segmentor (the deployable student) to ONNX and check it.

    python tools/export_onnx.py CONFIG CHECKPOINT --out student.onnx \
        [--shape 448 448] [--atol 1e-4] [--threshold T]

The graph takes one float32 BGR image batch in 0-255 pixel values,
(N, 3, H, W) at the exported size, and returns the crack probability map
``crack_probability`` (N, 1, H, W) and the crack mask ``crack_mask``
(N, 1, H, W; uint8 0/1, probability above the decision threshold):
mean/std normalisation, channel order and the final sigmoid/softmax are
inside, so callers feed raw pixels. The threshold is the checkpoint's
(tools/choose_threshold.py), else the config's, unless ``--threshold`` is
given; it is also stored in the model's metadata as
``decision_threshold``. After export, ONNX Runtime's output is compared
with PyTorch's on random inputs and the tool fails if the probabilities
differ by more than ``--atol`` or a mask differs where the probability is
farther than that from the threshold.
"""
import argparse
import sys

import numpy as np
import onnx
import torch
from mmseg.apis import init_model
from torch.nn.utils import parametrize

from crackdino_mm.apis import apply_threshold


class CrackProbabilityModel(torch.nn.Module):
    """Raw BGR pixels in; crack probability and mask out."""

    def __init__(self, segmentor, threshold: float):
        super().__init__()
        self.segmentor = segmentor
        self.threshold = threshold
        # The same conversion as the model's SegDataPreProcessor.
        preprocessor = segmentor.data_preprocessor
        self.swap_channels = bool(preprocessor._channel_conversion)
        self.register_buffer('mean', preprocessor.mean.clone())
        self.register_buffer('std', preprocessor.std.clone())

    def forward(self, img):
        if self.swap_channels:
            img = img.flip(1)
        img = (img - self.mean) / self.std
        meta = dict(img_shape=img.shape[2:], ori_shape=img.shape[2:],
                    pad_shape=img.shape[2:])
        logits = self.segmentor.encode_decode(img, [meta] * img.shape[0])
        if logits.shape[1] == 1:
            prob = torch.sigmoid(logits)
        else:
            prob = torch.softmax(logits, dim=1)[:, 1:]
        return prob, (prob > self.threshold).to(torch.uint8)


def bake_parametrizations(model: torch.nn.Module) -> None:
    """Replace parametrized weights (spectral norm) by their current value.

    In eval mode spectral normalisation divides by a fixed sigma, so the
    normalised weight is a constant: exporting it avoids ops ONNX lacks.
    """
    for module in model.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(
                    module, name, leave_parametrized=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, default=(448, 448),
                        metavar=('HEIGHT', 'WIDTH'))
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest accepted |ONNX - PyTorch| probability')
    parser.add_argument(
        '--threshold', type=float,
        help='decision threshold of the crack_mask output (default: the '
        'checkpoint\'s, else the config\'s)')
    return parser.parse_args(argv)


def mask_mismatches(prob, mask, expected_mask, threshold, atol):
    """Mask pixels that differ although their probability is farther than
    ``atol`` from the threshold (the others may flip with rounding)."""
    decided = np.abs(prob - threshold) > atol
    return int(((mask != expected_mask) & decided).sum())


def main(argv=None):
    args = parse_args(argv)
    segmentor = init_model(args.config, args.checkpoint, device='cpu')
    threshold = apply_threshold(segmentor, args.checkpoint, args.threshold)
    model = CrackProbabilityModel(segmentor, threshold).eval()
    bake_parametrizations(model)
    example = torch.rand(1, 3, *args.shape) * 255
    outputs = ['crack_probability', 'crack_mask']
    torch.onnx.export(
        model, (example, ), args.out, dynamo=False,
        opset_version=args.opset, input_names=['image'],
        output_names=outputs,
        dynamic_axes={name: {0: 'batch'} for name in ['image', *outputs]})
    graph = onnx.load(args.out)
    onnx.helper.set_model_props(
        graph, dict(decision_threshold=str(threshold)))
    onnx.save(graph, args.out)

    import onnxruntime
    session = onnxruntime.InferenceSession(
        args.out, providers=['CPUExecutionProvider'])
    check = torch.rand(2, 3, *args.shape, generator=torch.Generator()
                       .manual_seed(0)) * 255
    with torch.no_grad():
        expected_prob, expected_mask = (out.numpy() for out in model(check))
    prob, mask = session.run(None, {'image': check.numpy()})
    diff = float(np.abs(prob - expected_prob).max())
    wrong = mask_mismatches(prob, mask, expected_mask, threshold, args.atol)
    print(f'exported {args.out}: input (N, 3, {args.shape[0]}, '
          f'{args.shape[1]}) BGR 0-255; decision threshold {threshold}; '
          f'max |ONNX Runtime - PyTorch| = {diff:.2e} (tolerance '
          f'{args.atol:.0e}); {wrong} mask pixel(s) differ')
    return 0 if diff <= args.atol and wrong == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
