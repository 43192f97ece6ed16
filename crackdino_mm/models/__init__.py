from . import backbones, decode_heads, losses, necks, segmentors  # noqa: F401
from .data_preprocessor import CrackDataPreProcessor  # noqa: F401
