from mmseg.registry import DATASETS

from .crack_folder import CrackFolderDataset


@DATASETS.register_module()
class DeepCrackDataset(CrackFolderDataset):
    """DeepCrack (Liu et al., 2019) in its published layout.

    ``train_img``/``train_lab`` (300 images) and ``test_img``/``test_lab``
    (237), JPEG photos with 0/255 PNG masks paired by stem; everything else
    is ``CrackFolderDataset``'s, whose checks it keeps.
    """
