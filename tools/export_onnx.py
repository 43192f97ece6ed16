"""Export a segmentor (the deployable student) to ONNX and check it.

    python tools/export_onnx.py CONFIG CHECKPOINT --out student.onnx \
        [--shape 448 448] [--atol 1e-4]

The graph takes one float32 BGR image batch in 0-255 pixel values,
(N, 3, H, W) at the exported size, and returns the crack probability map
(N, 1, H, W): mean/std normalisation, channel order and the final
sigmoid/softmax are inside, so callers feed raw pixels. After export, ONNX
Runtime's output is compared with PyTorch's on random inputs and the tool
fails if they differ by more than ``--atol``.
"""
import argparse
import sys

import numpy as np
import torch
from mmseg.apis import init_model
from torch.nn.utils import parametrize


class CrackProbabilityModel(torch.nn.Module):
    """Raw BGR pixels in, crack probability out."""

    def __init__(self, segmentor):
        super().__init__()
        self.segmentor = segmentor
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
            return torch.sigmoid(logits)
        return torch.softmax(logits, dim=1)[:, 1:]


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
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    model = CrackProbabilityModel(
        init_model(args.config, args.checkpoint, device='cpu')).eval()
    bake_parametrizations(model)
    example = torch.rand(1, 3, *args.shape) * 255
    torch.onnx.export(
        model, (example, ), args.out, dynamo=False,
        opset_version=args.opset, input_names=['image'],
        output_names=['crack_probability'],
        dynamic_axes={'image': {0: 'batch'},
                      'crack_probability': {0: 'batch'}})

    import onnxruntime
    session = onnxruntime.InferenceSession(
        args.out, providers=['CPUExecutionProvider'])
    check = torch.rand(2, 3, *args.shape, generator=torch.Generator()
                       .manual_seed(0)) * 255
    with torch.no_grad():
        expected = model(check).numpy()
    actual = session.run(None, {'image': check.numpy()})[0]
    diff = float(np.abs(actual - expected).max())
    print(f'exported {args.out}: input (N, 3, {args.shape[0]}, '
          f'{args.shape[1]}) BGR 0-255; max |ONNX Runtime - PyTorch| = '
          f'{diff:.2e} (tolerance {args.atol:.0e})')
    return 0 if diff <= args.atol else 1


if __name__ == '__main__':
    sys.exit(main())
