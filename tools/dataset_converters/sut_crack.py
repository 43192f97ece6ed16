"""Build the SUT-Crack site (asphalt, 512x512) from fredyGabriel/crackseg.

Its ``data/sut/images/*.jpg`` pair with ``data/sut/masks/*.png`` (130
pairs); the masks are soft grey RGB, crack where the grey value is >= 128.
The repository's ``data/unified`` is Crack500 (its crops match the
Crack500 set, already a site) and is never read.

    git --git-dir=<fetched crackseg> archive HEAD data/sut | \
        tar -x -C data/sources/crackseg
    python tools/dataset_converters/sut_crack.py \
        --source data/sources/crackseg --commit <commit>
"""
from crack_site_sources import SiteSource, main

SPEC = SiteSource(
    site='SUT-Crack', repository='fredyGabriel/crackseg',
    images='data/sut/images', masks='data/sut/masks', mask_suffix='.png',
    crack=lambda grey: grey >= 128, block=10, expected_pairs=130,
    rule='soft grey mask: crack where grey >= 128',
    forbidden=('data/unified', ))

if __name__ == '__main__':
    main(SPEC, __doc__)
