"""Build the UAV-Crack site (drone tiles of concrete and asphalt, 448x448)
from jakki-Guan/ground-to-uav-crack-segmentation.

Its ``kaggle_release/images`` pair with ``kaggle_release/masks`` by name
(315 pairs, 0/255 masks). Some ``.png`` files hold JPEG bytes: every file
is decoded by content. Neighbouring ``slide<n>`` tiles are near
duplicates, so the split keeps blocks of 100 consecutive tile numbers
together (never a random split of tiles).

    git --git-dir=<fetched repository> archive HEAD kaggle_release | \
        tar -x -C data/sources/uav
    python tools/dataset_converters/uav_crack.py \
        --source data/sources/uav --commit <commit>
"""
from crack_site_sources import SiteSource, main

SPEC = SiteSource(
    site='UAV-Crack', repository='jakki-Guan/ground-to-uav-crack-segmentation',
    images='kaggle_release/images', masks='kaggle_release/masks',
    mask_suffix='.png', crack=lambda grey: grey >= 128, block=100,
    expected_pairs=315, rule='0/255 mask: crack where grey >= 128')

if __name__ == '__main__':
    main(SPEC, __doc__)
