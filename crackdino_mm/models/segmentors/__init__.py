from .dual_teacher_distiller import DualTeacherDistiller

__all__ = ['DualTeacherDistiller']
