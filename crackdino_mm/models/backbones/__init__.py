from .dinov2 import DINOv2, convert_dinov2_state_dict

__all__ = ['DINOv2', 'convert_dinov2_state_dict']
