from .crack_tta_model import CrackTTAModel
from .dual_teacher_distiller import DualTeacherDistiller

__all__ = ['CrackTTAModel', 'DualTeacherDistiller']
