"""Crack inspection of segmented photos: measurements per crack, overlays
and the HTML report that ``tools/infer.py`` writes."""
from .quantification import (MEASURED_AS, CrackMeasurements, CrackTable,
                             check_width_limits, measure_each_crack,
                             width_class_names, width_classes)
from .report import InspectionReport, read_photo, unreadable_reason
from .visualization import mark_dropped, overlay_mask, side_by_side

__all__ = [
    'CrackMeasurements', 'CrackTable', 'InspectionReport', 'MEASURED_AS',
    'check_width_limits', 'mark_dropped', 'measure_each_crack',
    'overlay_mask', 'read_photo', 'side_by_side', 'unreadable_reason',
    'width_class_names', 'width_classes'
]
