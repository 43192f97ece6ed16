"""No file of the repository names the machine it was made on: results,
reports and the kept checkpoints' meta give paths relative to the
repository (or to the data root beside it)."""
import json
import os
import os.path as osp
import re
import subprocess

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: An absolute path into a home, scratch or work folder (POSIX), or on a
#: Windows drive, where a path starts (not inside ``work_dirs/tmp/`` or a
#: URL, nor a regular expression's ``\\d:\\d``).
MACHINE_PATH = re.compile(r'(?:^|(?<=[\s\'"`=(,]))(?:/(?:work|root|home|tmp|'
                          r'Users|mnt)/|[A-Za-z]:\\\w)', re.M)
KEPT = ('benchmarks/results/crack_transfer_weights',
        'benchmarks/results/site_adaptation_weights')


def committed_files():
    """The repository's committed files (every file outside .git and the
    ignored work folders when it is no git checkout)."""
    listed = subprocess.run(['git', 'ls-files', '-z'], cwd=REPO,
                            capture_output=True)
    if listed.returncode == 0:
        return [f for f in listed.stdout.decode().split('\0') if f]
    return [osp.relpath(osp.join(root, f), REPO)
            for root, dirs, files in os.walk(REPO)
            if not {'.git', 'work_dirs', 'data', '.venv'} & set(
                osp.relpath(root, REPO).split(osp.sep))
            for f in files]


def machine_paths(text):
    return sorted({text[m.start():m.start() + 40].split()[0]
                   for m in MACHINE_PATH.finditer(text)})


def test_no_committed_text_file_names_a_machine_path():
    found = {}
    for path in committed_files():
        full = osp.join(REPO, path)
        if not osp.isfile(full):
            continue
        with open(full, 'rb') as f:
            data = f.read()
        if b'\0' in data:  # a binary file (image, checkpoint)
            continue
        paths = machine_paths(data.decode('utf-8', 'replace'))
        if paths:
            found[path] = paths
    assert found == {}


def test_kept_checkpoints_meta_names_no_machine_path():
    found = {}
    for folder in KEPT:
        for name in sorted(os.listdir(osp.join(REPO, folder))):
            path = osp.join(folder, name)
            checkpoint = torch.load(osp.join(REPO, path), map_location='cpu',
                                    weights_only=False, mmap=True)
            meta = json.dumps(checkpoint.get('meta', {}), default=str)
            if machine_paths(meta):
                found[path] = machine_paths(meta)
    assert found == {}


def test_the_scan_sees_machine_paths():
    home = '/'.join(['', 'home', 'someone', 'data'])
    assert machine_paths(f'data_root={home} x') == [home]
    assert machine_paths('C:' + '\\' + 'Users\\x') == ['C:\\Users\\x']
    assert machine_paths('work_dirs/tmp/x https://a.org/home/x ../x '
                         r'\d\d:\d\d') == []
