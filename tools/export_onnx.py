"""Export a segmentor (the deployable student) to ONNX and check it.

    python tools/export_onnx.py CONFIG CHECKPOINT --out student.onnx \
        [--shape 448 448] [--atol 1e-4] [--threshold T] [--scale S]

The graph takes one float32 BGR image batch in 0-255 pixel values,
(N, 3, H, W) at the exported size, and returns the crack probability map
``crack_probability`` (N, 1, H, W) and the crack mask ``crack_mask``
(N, 1, H, W; uint8 0/1, probability above the decision threshold):
mean/std normalisation, channel order and the final sigmoid/softmax are
inside, so callers feed raw pixels. The model is the deployable one
(``init_crack_model``: a distiller's student) with the checkpoint's
calibration unless ``--threshold``/``--scale`` are given: the graph resizes
its input by the test-time scale and its output back (bilinear, as
``CrackDataPreProcessor`` and MMSeg do), and both are stored in the
model's metadata (``decision_threshold``, ``test_scale``). After export,
ONNX Runtime's output is compared with PyTorch's on random inputs and
the tool fails if the probabilities differ by more than ``--atol`` or a
mask differs where the probability is farther than that from the
threshold.
"""
import io
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from crackdino_mm.apis import (OneLineParser, apply_calibration,
                               atomic_write, check_output_file,
                               crack_probability, init_crack_model,
                               scale_argument, threshold_argument)


def resize_matrix(size: int, scale: float) -> torch.Tensor:
    """The (round(size * scale), size) matrix that resizes one axis as
    ``CrackDataPreProcessor.rescale`` does (bilinear, antialiased when
    shrinking): ONNX export has no antialiased resize, but a matrix
    product is exact. Rows of an identity, each resized along the width."""
    out = max(1, round(size * scale))
    return F.interpolate(torch.eye(size)[:, None, None, :], size=(1, out),
                         mode='bilinear', align_corners=False,
                         antialias=scale < 1)[:, 0, 0, :].T.contiguous()


class CrackProbabilityModel(torch.nn.Module):
    """Raw BGR pixels of a fixed size in; crack probability and mask
    out."""

    def __init__(self, segmentor, threshold: float, shape, scale=1.0):
        super().__init__()
        self.segmentor = segmentor
        self.threshold = threshold
        self.scale = scale
        self.shape = tuple(shape)
        self.register_buffer('rows', resize_matrix(shape[0], scale))
        self.register_buffer('cols', resize_matrix(shape[1], scale).T)
        # The same conversion as the model's SegDataPreProcessor.
        preprocessor = segmentor.data_preprocessor
        self.swap_channels = bool(preprocessor._channel_conversion)
        self.register_buffer('mean', preprocessor.mean.clone())
        self.register_buffer('std', preprocessor.std.clone())

    def forward(self, img):
        if self.scale != 1:
            img = self.rows @ img @ self.cols
        if self.swap_channels:
            img = img.flip(1)
        img = (img - self.mean) / self.std
        meta = dict(img_shape=img.shape[2:], ori_shape=img.shape[2:],
                    pad_shape=img.shape[2:])
        logits = self.segmentor.encode_decode(img, [meta] * img.shape[0])
        if self.scale != 1:
            logits = F.interpolate(logits, size=self.shape, mode='bilinear',
                                   align_corners=False)
        prob = crack_probability(logits, dim=1)[:, None]
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
    parser = OneLineParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, default=(448, 448),
                        metavar=('HEIGHT', 'WIDTH'))
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest accepted |ONNX - PyTorch| probability')
    parser.add_argument(
        '--threshold', type=threshold_argument,
        help='decision threshold of the crack_mask output (default: the '
        'checkpoint\'s, else the config\'s)')
    parser.add_argument(
        '--scale', type=scale_argument,
        help='test-time input scale (default: the checkpoint\'s, else the '
        'config\'s)')
    return parser.parse_args(argv)


def mask_mismatches(prob, mask, expected_mask, threshold, atol):
    """Mask pixels that differ although their probability is farther than
    ``atol`` from the threshold (the others may flip with rounding)."""
    decided = np.abs(prob - threshold) > atol
    return int(((mask != expected_mask) & decided).sum())


def main(argv=None):
    args = parse_args(argv)
    try:
        check_output_file(args.out, '--out', [('config', args.config),
                                              ('checkpoint', args.checkpoint)])
    except ValueError as error:
        print(f'export_onnx.py: {error}', file=sys.stderr)
        return 2
    segmentor = init_crack_model(args.config, args.checkpoint, 'cpu',
                                 threshold=args.threshold, scale=args.scale)
    calibration = apply_calibration(segmentor)
    threshold = calibration['threshold']
    model = CrackProbabilityModel(segmentor, threshold, args.shape,
                                  calibration['scale']).eval()
    bake_parametrizations(model)
    example = torch.rand(1, 3, *args.shape) * 255
    outputs = ['crack_probability', 'crack_mask']
    exported = io.BytesIO()
    torch.onnx.export(
        model, (example, ), exported, dynamo=False,
        opset_version=args.opset, input_names=['image'],
        output_names=outputs,
        dynamic_axes={name: {0: 'batch'} for name in ['image', *outputs]})
    graph = onnx.load_from_string(exported.getvalue())
    onnx.helper.set_model_props(
        graph, dict(decision_threshold=str(threshold),
                    test_scale=str(calibration['scale'])))
    atomic_write(graph.SerializeToString(), args.out)

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
          f'test-time scale {calibration["scale"]}; '
          f'max |ONNX Runtime - PyTorch| = {diff:.2e} (tolerance '
          f'{args.atol:.0e}); {wrong} mask pixel(s) differ')
    return 0 if diff <= args.atol and wrong == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
