"""Report sections: Markdown blocks between markers, rewritten in place
from the records, so that several studies report into one file and a
README or guide carries figures that come from the record alone."""
import os.path as osp
import string

from harness.records import REPO

TEMPLATES = osp.join(osp.dirname(osp.abspath(__file__)), 'templates')


def replace_block(text, start, end, body):
    """``text`` with what lies between the lines ``start`` and ``end``
    replaced by ``body``, or None when the markers are absent."""
    if start not in text or end not in text.split(start, 1)[1]:
        return None
    head, rest = text.split(start, 1)
    return head + '\n'.join([start, body, end]) + rest.split(end, 1)[1]


def write_section(path, key, lines):
    """Replace the block between ``<!-- key -->`` and ``<!-- /key -->`` in
    a Markdown file (appended when absent): the RESULTS.md sections."""
    start, end = f'<!-- {key} -->', f'<!-- /{key} -->'
    text = open(path).read() if osp.isfile(path) else ''
    body = '\n'.join(lines)
    replaced = replace_block(text, start, end, body)
    if replaced is None:
        block = '\n'.join([start, body, end])
        replaced = (text.rstrip('\n') + '\n\n' if text else '') + block + '\n'
    with open(path, 'w') as f:
        f.write(replaced)
    print(f'wrote {osp.relpath(path, REPO)} ({key})')


def replace_marked_block(path, name, body):
    """Replace the block between ``<!-- results:NAME -->`` and
    ``<!-- /results:NAME -->`` of a Markdown file (README, docs) with
    ``body``; the markers must be there already. True when the file
    changed."""
    start, end = f'<!-- results:{name} -->', f'<!-- /results:{name} -->'
    with open(path) as f:
        text = f.read()
    replaced = replace_block(text, start, end, body.strip('\n'))
    if replaced is None:
        raise ValueError(f'{path}: no "{start}" ... "{end}" block to '
                         'replace')
    if replaced != text:
        with open(path, 'w') as f:
            f.write(replaced)
    return replaced != text


def template(name, **fields):
    """The Markdown template ``templates/<name>.md`` with ``$field``
    placeholders filled (``$$`` for a dollar sign)."""
    with open(osp.join(TEMPLATES, name + '.md')) as f:
        return string.Template(f.read()).substitute(fields).rstrip('\n')


def cell(value, digits=2):
    """A table cell of a number ('' when there is none)."""
    return '' if value is None else f'{value:.{digits}f}'
