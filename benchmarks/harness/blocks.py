"""Registry of the generated blocks of README and docs: each
``<!-- results:NAME -->`` block has one generator, a function of the
committed results JSON, so that a study's ``report`` writes it and a test
can tell when a block no longer says what the record gives."""
import collections
import glob
import os.path as osp
import re

from harness.records import REPO
from harness.report import replace_marked_block

#: path (relative to the repository) and generator () -> Markdown body.
Block = collections.namedtuple('Block', 'path render')
BLOCKS = {}
#: Files whose ``results:`` blocks must all have a generator.
DOCUMENTS = ('README.md', 'docs/**/*.md', 'benchmarks/README.md',
             'configs/**/README.md')
MARKER = re.compile(r'<!-- results:([\w-]+) -->')


def register(name, path):
    """Decorator: the function generates block ``name`` of ``path``."""
    def wrap(render):
        if name in BLOCKS and BLOCKS[name].render is not render:
            raise ValueError(f'block "{name}" has two generators')
        BLOCKS[name] = Block(path, render)
        return render
    return wrap


def write(*names):
    """Rewrite the named blocks (all registered ones when none is named)
    in their files from the record."""
    for name in names or sorted(BLOCKS):
        path, render = BLOCKS[name]
        if replace_marked_block(osp.join(REPO, path), name, render()):
            print(f'wrote {path} (results:{name})')


def current(name, path):
    """What block ``name`` of ``path`` holds now (None when absent)."""
    with open(osp.join(REPO, path)) as f:
        text = f.read()
    start, end = f'<!-- results:{name} -->\n', f'\n<!-- /results:{name} -->'
    if start not in text or end not in text.split(start, 1)[1]:
        return None
    return text.split(start, 1)[1].split(end, 1)[0]


def stale():
    """Names of the registered blocks whose file says something else than
    their generator gives from the record."""
    return [name for name, (path, render) in sorted(BLOCKS.items())
            if current(name, path) != render().strip('\n')]


def marked():
    """{NAME: path} of every ``results:`` block in README and docs."""
    found = {}
    for pattern in DOCUMENTS:
        for path in sorted(glob.glob(osp.join(REPO, pattern),
                                     recursive=True)):
            with open(path) as f:
                for name in MARKER.findall(f.read()):
                    found[name] = osp.relpath(path, REPO)
    return found
