"""Build the PaveSeg site (roads from a vehicle camera, 1280x1080) from
the preview of FuturePave/PaveSeg-Dataset.

Its ``img_preview/*.jpg`` pair with ``label_preview/*_mask.png`` (100
pairs), whose grey values are classes: crack 30 and alligator crack 150
are crack; sealed crack 90 is ignored (written as grey 128, which
``LoadCrackAnnotations`` reads as the ignore index: neither crack nor
background); pothole 60, patch 120, utility cover 180 and expansion joint
210 are background; any other value is an error.

    git --git-dir=<fetched PaveSeg-Dataset> archive HEAD | \
        tar -x -C data/sources/paveseg
    python tools/dataset_converters/paveseg.py \
        --source data/sources/paveseg --commit <commit>
"""
import numpy as np

from crack_site_sources import SiteSource, main

CRACK_VALUES = (30, 150)
IGNORED_VALUES = (90, )
CLASS_VALUES = (0, 30, 60, 90, 120, 150, 180, 210)


def crack_classes(grey: np.ndarray) -> np.ndarray:
    """Crack and alligator crack pixels of a PaveSeg class mask."""
    unknown = sorted(set(np.unique(grey).tolist()) - set(CLASS_VALUES))
    if unknown:
        raise ValueError(f'grey value(s) {unknown} are no PaveSeg class '
                         f'(expected {CLASS_VALUES})')
    return np.isin(grey, CRACK_VALUES)


def ignored_classes(grey: np.ndarray) -> np.ndarray:
    """Sealed crack pixels of a PaveSeg class mask: neither crack nor
    background."""
    return np.isin(grey, IGNORED_VALUES)


SPEC = SiteSource(
    site='PaveSeg', repository='FuturePave/PaveSeg-Dataset',
    images='img_preview', masks='label_preview', mask_suffix='_mask.png',
    crack=crack_classes, ignored=ignored_classes, block=10,
    expected_pairs=100,
    rule='class mask: crack 30 and alligator crack 150 are crack (255); '
    'sealed crack 90 is ignored (128); pothole 60, patch 120, cover 180, '
    'joint 210 and 0 are background (0)')

if __name__ == '__main__':
    main(SPEC, __doc__)
