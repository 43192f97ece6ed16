"""What loses work is refused, and every bad input is one line: tools that
write refuse an output that is their source or a folder of photos,
before any model loads, and tools/adapt.py names each unreadable or
truncated photo or mask before any work; nothing is written."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from test_site_adaptation import (STUDENT, digest, student,  # noqa: F401
                                  write_site)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tool(name, *args):
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', name),
                           *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


def refused(run, *words):
    """rc 2, one line on stderr saying ``words``, no traceback."""
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr[-2000:]
    assert len(lines) == 1 and 'Traceback' not in run.stderr, run.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def files_under(folder):
    return sorted(osp.relpath(osp.join(d, f), folder)
                  for d, _, names in os.walk(folder) for f in names)


def truncate(path):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


@pytest.mark.parametrize('as_link', [False, True])
def test_adapt_refuses_to_overwrite_its_checkpoint(student, tmp_path,
                                                   as_link):
    images, masks = write_site(tmp_path, 2)
    source = digest(student)
    out = student
    if as_link:
        out = tmp_path / 'link.pth'
        out.symlink_to(student)
    line = refused(tool('adapt.py', STUDENT, student, '--images', images,
                        '--masks', masks, '--out', out),
                   '--out', 'is the checkpoint', '--overwrite')
    assert str(out) in line
    assert digest(student) == source


def test_adapt_overwrites_its_checkpoint_when_told(student, tmp_path):
    images, masks = write_site(tmp_path, 2)
    copy = tmp_path / 'copy.pth'
    copy.write_bytes(open(student, 'rb').read())
    run = tool('adapt.py', STUDENT, copy, '--images', images, '--masks',
               masks, '--scales', '1', '--out', copy, '--overwrite')
    assert run.returncode == 0, run.stderr[-2000:]
    assert digest(str(copy)) != digest(student)


@pytest.mark.parametrize('case', ['file', 'photos'])
def test_adapt_refuses_a_work_dir_that_is_a_file_or_the_photos(
        student, tmp_path, case):
    images, masks = write_site(tmp_path, 2)
    work_dir = images if case == 'photos' else tmp_path / 'work'
    if case == 'file':
        work_dir.write_text('')
    before = files_under(tmp_path)
    refused(tool('adapt.py', STUDENT, student, '--images', images,
                 '--masks', masks, '--finetune-iters', '1', '--work-dir',
                 work_dir, '--out', tmp_path / 'out.pth'),
            '--work-dir', str(work_dir))
    assert files_under(tmp_path) == before


@pytest.mark.parametrize('case', ['file', 'photos'])
def test_infer_refuses_an_out_dir_before_loading_the_model(tmp_path, case):
    images, _ = write_site(tmp_path, 2)
    out_dir = images if case == 'photos' else tmp_path / 'student.pth'
    if case == 'file':
        out_dir.write_text('')
    before = files_under(tmp_path)
    # The checkpoint does not exist: loading it would fail otherwise.
    refused(tool('infer.py', STUDENT, tmp_path / 'missing.pth', images,
                 '--out-dir', out_dir),
            '--out-dir', 'is a file' if case == 'file' else 'photos')
    assert files_under(tmp_path) == before


@pytest.mark.parametrize('case, named', [
    ('truncated_image', 'p1.jpg'), ('truncated_mask', 'p0.png'),
    ('truncated_unlabelled', 'u2.jpg'), ('no_readable_unlabelled', 'u0.jpg'),
])
def test_adapt_names_an_unreadable_photo_before_any_work(
        student, tmp_path, case, named):
    images, masks = write_site(tmp_path / 'site', 3)
    unlabelled, _ = write_site(tmp_path / 'unl', 3, seed=4)
    for name in os.listdir(unlabelled):
        os.rename(osp.join(unlabelled, name),
                  osp.join(unlabelled, 'u' + name[1:]))
    if case == 'truncated_image':
        truncate(osp.join(images, named))
    elif case == 'truncated_mask':
        truncate(osp.join(masks, named))
    elif case == 'truncated_unlabelled':
        truncate(osp.join(unlabelled, named))
    else:
        for name in os.listdir(unlabelled):
            open(osp.join(unlabelled, name), 'wb').close()
    args = ['--unlabelled', unlabelled]
    if case in ('truncated_image', 'truncated_mask'):
        args = ['--images', images, '--masks', masks]
    out = tmp_path / 'out.pth'
    line = refused(tool('adapt.py', STUDENT, student, *args, '--out', out),
                   named)
    assert not out.exists()
    assert 'truncated' in line or 'empty' in line or 'decode' in line


def test_adapt_refuses_distillation_without_teachers_before_any_work(
        student, tmp_path):
    images, masks = write_site(tmp_path, 2)
    out = tmp_path / 'out.pth'
    run = tool('adapt.py', STUDENT, student, '--images', images, '--masks',
               masks, '--unlabelled', images, '--finetune-iters', '1',
               '--out', out)
    refused(run, 'DualTeacherDistiller', '--distiller-config')
    assert 'calibration' not in run.stderr and not out.exists()
