"""Build the CeramicTiles site (indoor ceramic tiles, 256x256) from
gerivansantos/ceramic-cracks-dataset.

Its ``train/image`` (RGBA, written as RGB) pair with ``train/label`` (soft
masks, crack where the grey value is >= 128): 100 labelled pairs. The
unlabelled ``test`` folder is not read.

    git --git-dir=<fetched repository> archive HEAD train | \
        tar -x -C data/sources/ceramic
    python tools/dataset_converters/ceramic_tiles.py \
        --source data/sources/ceramic --commit <commit>
"""
from crack_site_sources import SiteSource, main

SPEC = SiteSource(
    site='CeramicTiles', repository='gerivansantos/ceramic-cracks-dataset',
    images='train/image', masks='train/label', mask_suffix='.png',
    crack=lambda grey: grey >= 128, block=10, expected_pairs=100,
    rule='soft grey mask: crack where grey >= 128')

if __name__ == '__main__':
    main(SPEC, __doc__)
