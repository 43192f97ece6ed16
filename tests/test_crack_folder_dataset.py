"""CrackFolderDataset: any image folder + mask folder, paired by name."""
import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCrackAnnotations'),
    dict(type='PackSegInputs')
]
SIZE = (30, 40)


def crack(value=255):
    mask = np.zeros(SIZE, np.uint8)
    mask[14:17, 4:36] = value
    return mask


def write(folder, name, array, jpeg_quality=None):
    folder.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if jpeg_quality else []
    assert cv2.imwrite(str(folder / name), array, params)


def image(seed=0):
    return np.random.default_rng(seed).integers(0, 255, (*SIZE, 3),
                                                dtype=np.uint8)


def build(root, **kwargs):
    return DATASETS.build(dict(
        type='CrackFolderDataset', data_root=str(root),
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        pipeline=PIPELINE, **kwargs))


def test_suffixes_pair_images_with_their_masks(tmp_path):
    write(tmp_path / 'images', 'a.jpg', image())
    write(tmp_path / 'images', 'b.jpg', image(1))
    write(tmp_path / 'masks', 'a_mask.png', crack())
    write(tmp_path / 'masks', 'b_mask.png', crack())
    write(tmp_path / 'masks', 'a_preview.png', crack())  # not a mask
    dataset = build(tmp_path, img_suffix='.jpg', seg_map_suffix='_mask.png')
    assert [osp_name(dataset.get_data_info(i)['seg_map_path'])
            for i in range(len(dataset))] == [
        'a_mask.png', 'b_mask.png']
    label = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(label, crack(1))


def osp_name(path):
    return path.replace('\\', '/').rsplit('/', 1)[-1]


def test_default_pairs_any_image_extension_by_stem(tmp_path):
    write(tmp_path / 'images', 'a.png', image())
    write(tmp_path / 'images', 'b.tif', image(1))
    write(tmp_path / 'masks', 'a.bmp', crack())
    write(tmp_path / 'masks', 'b.png', crack())
    assert len(build(tmp_path)) == 2


@pytest.mark.parametrize('encoding', ['0_255', '0_1', 'grey_jpeg',
                                      'antialiased', 'rgb'])
def test_mask_encodings_load_as_crack_labels(tmp_path, encoding):
    mask, quality, name = crack(), None, 'a.png'
    if encoding == '0_1':
        mask = crack(1)
    elif encoding == 'grey_jpeg':
        quality, name = 50, 'a.jpg'
    elif encoding == 'antialiased':
        mask = cv2.GaussianBlur(crack(), (0, 0), 0.6)
        mask[15] = 255  # the crack's centre line stays full
        assert len(np.unique(mask)) > 3
    elif encoding == 'rgb':
        mask = cv2.cvtColor(crack(), cv2.COLOR_GRAY2BGR)
    write(tmp_path / 'images', 'a.jpg', image())
    write(tmp_path / 'masks', name, mask, quality)
    label = build(tmp_path)[0]['data_samples'].gt_sem_seg.data[0].numpy()
    assert set(np.unique(label)) <= {0, 1}
    agreement = (label == crack(1)).mean()
    assert agreement > 0.98, f'{encoding}: {agreement:.3f} of pixels agree'


def test_one_error_lists_every_problem(tmp_path):
    write(tmp_path / 'images', 'lonely.jpg', image())
    write(tmp_path / 'images', 'broken.jpg', image())
    (tmp_path / 'images' / 'broken.jpg').write_bytes(b'not a jpeg')
    write(tmp_path / 'images', 'twice.jpg', image())
    write(tmp_path / 'images', 'twice.png', image())
    write(tmp_path / 'masks', 'broken.png', crack())
    write(tmp_path / 'masks', 'twice.png', crack())
    write(tmp_path / 'masks', 'orphan.png', crack())
    with pytest.raises(ValueError) as error:
        build(tmp_path)
    message = str(error.value)
    assert '4 problem(s)' in message
    for expected in ('lonely.jpg has no mask', 'orphan.png has no image',
                     "two files for 'twice'", 'broken.jpg cannot be decoded'):
        assert expected in message


def test_missing_and_empty_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='images does not exist'):
        build(tmp_path)
    (tmp_path / 'images').mkdir()
    write(tmp_path / 'masks', 'a_mask.png', crack())
    with pytest.raises(ValueError, match=r'no image in .*images \(expected '
                       r'names ending in \.jpg\)'):
        build(tmp_path, img_suffix='.jpg', seg_map_suffix='_mask.png')


def test_deepcrack_dataset_is_a_folder_dataset_with_its_layout(tmp_path):
    write(tmp_path / 'test_img', 'x.jpg', image())
    write(tmp_path / 'test_lab', 'x.png', crack())
    dataset = DATASETS.build(dict(
        type='DeepCrackDataset', data_root=str(tmp_path),
        data_prefix=dict(img_path='test_img', seg_map_path='test_lab'),
        pipeline=PIPELINE))
    assert len(dataset) == 1
    assert dataset.metainfo['classes'] == ('background', 'crack')


def test_split_file_selects_listed_pairs(tmp_path):
    for index, name in enumerate('abc'):
        write(tmp_path / 'images', name + '.jpg', image(index))
        write(tmp_path / 'masks', name + '.png', crack())
    (tmp_path / 'split.txt').write_text('c\na\n\n')
    dataset = build(tmp_path, ann_file=str(tmp_path / 'split.txt'))
    assert [osp_name(dataset.get_data_info(i)['img_path'])
            for i in range(len(dataset))] == ['c.jpg', 'a.jpg']


def test_split_file_naming_a_missing_pair_is_an_error(tmp_path):
    write(tmp_path / 'images', 'a.jpg', image())
    write(tmp_path / 'masks', 'a.png', crack())
    (tmp_path / 'split.txt').write_text('a\nzz\n')
    with pytest.raises(ValueError, match="split.txt lists 'zz'"):
        build(tmp_path, ann_file=str(tmp_path / 'split.txt'))
    with pytest.raises(FileNotFoundError, match='nope.txt does not exist'):
        build(tmp_path, ann_file=str(tmp_path / 'nope.txt'))
