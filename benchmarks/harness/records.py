"""Results records: JSON files under ``benchmarks/results/``, read and
merged under a lock so that sittings running at once lose nothing, and
written atomically; every path in them is relative to the repository."""
import contextlib
import fcntl
import json
import os.path as osp
import re

from crackdino_mm.utils import atomic_write

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS_DIR = osp.join(REPO, 'benchmarks', 'results')
REPORT = osp.join(REPO, 'benchmarks', 'RESULTS.md')


def results_path(name):
    """``benchmarks/results/<name>`` (absolute, for reading and writing)."""
    return osp.join(RESULTS_DIR, name)


def default_data_root():
    """DeepCrack, relative to the repository: the shared copy beside the
    checkout when there is one, else ``data/DeepCrack``."""
    shared = osp.join('..', 'shared', 'data', 'DeepCrack')
    return shared if osp.isdir(osp.join(REPO, shared)) else osp.join(
        'data', 'DeepCrack')


def relative(path):
    """``path`` relative to the repository when it is absolute."""
    return osp.relpath(path, REPO) if osp.isabs(path) else path


def relative_text(value):
    """``value`` (text, or lists and dicts of it) with every absolute path
    into the repository or beside it rewritten relative to the repository,
    so that no record names the machine it ran on."""
    if isinstance(value, str):
        parent = osp.dirname(REPO)
        value = value.replace(REPO + osp.sep, '')
        value = re.sub(re.escape(REPO) + r'(?![\w.-])', '.', value)
        return value.replace(parent + osp.sep, '..' + osp.sep)
    if isinstance(value, dict):
        return {k: relative_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(relative_text(v) for v in value)
    return value


def load(path):
    """The records at ``path`` ({} when there is no file yet)."""
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def save(path, results):
    """Write the records atomically (a reader never sees half a file),
    every path in them relative to the repository."""
    atomic_write((json.dumps(relative_text(results), indent=2) +
                  '\n').encode(), path)


@contextlib.contextmanager
def locked(path):
    """The records at ``path``, read and written back under an exclusive
    lock (two sittings, one per core, may record at once)."""
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = load(path)
        yield results
        save(path, results)


def record(path, key, **parts):
    """Merge ``parts`` into the record ``key`` under the lock; a dict part
    updates the dict recorded under its name, any other part replaces it."""
    with locked(path) as results:
        entry = results.setdefault(key, {})
        for name, value in parts.items():
            if isinstance(value, dict) and isinstance(entry.get(name), dict):
                entry[name].update(value)
            else:
                entry[name] = value
