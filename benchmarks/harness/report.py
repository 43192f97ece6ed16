"""Report sections: Markdown blocks between markers, rewritten in place
from the records, so that several studies report into one file and a
README or guide carries figures that come from the record alone."""
import glob
import os.path as osp
import string
import textwrap

from harness.records import REPO, RESULTS_DIR, load

TEMPLATES = osp.join(osp.dirname(osp.abspath(__file__)), 'templates')
#: Prose lines of a report are wrapped at this width (tables are not).
WIDTH = 79
README = osp.join(REPO, 'benchmarks', 'README.md')
#: Record keys that hold the wall seconds of a run.
TIMED = ('wall_seconds', 'train_wall_seconds', 'seconds')
#: CrackMetric's figures a DeepCrack accuracy table shows, with headers.
ACCURACY_COLUMNS = [('crack_iou', 'crack IoU'), ('crack_f1', 'F1'),
                    ('precision', 'P'), ('recall', 'R'), ('ods', 'ODS'),
                    ('ois', 'OIS'), ('ap', 'AP')]


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
    body = '\n'.join(reflow('\n'.join(lines).split('\n')))
    replaced = replace_block(text, start, end, body)
    if replaced is None:
        block = '\n'.join([start, body, end])
        replaced = (text.rstrip('\n') + '\n\n' if text else '') + block + '\n'
    with open(path, 'w') as f:
        f.write(replaced)
    print(f'wrote {osp.relpath(path, REPO)} ({key})')


def reflow(lines, width=WIDTH):
    """Markdown lines with each long prose line (a paragraph or a list
    item) wrapped at ``width``, as it renders the same; tables, headings,
    HTML and code are left as they are."""
    out, fenced = [], False
    for line in lines:
        if line.startswith('```'):
            fenced = not fenced
        if fenced or len(line) <= width or line.startswith(
                ('|', '#', '<', '    ', '```')):
            out.append(line)
            continue
        indent = '  ' if line.startswith(('- ', '* ')) else ''
        out += textwrap.wrap(line, width, subsequent_indent=indent,
                             break_long_words=False, break_on_hyphens=False)
    return out


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


def command_block(runs, width=96):
    """Recorded commands as a folded bash block (``<details>``), each
    under a ``# label`` line and wrapped with ``\\`` continuations, so
    that no line of the report runs past ``width`` (``runs``: (label,
    command) pairs)."""
    runs = list(runs)
    lines = [f'<details><summary>{len(runs)} recorded command'
             f'{"s" if len(runs) != 1 else ""}</summary>', '', '```bash']
    for label, command in runs:
        lines.append(f'# {label}')
        line = ''
        for token in command.split(' '):
            if line and len(line) + len(token) + 3 > width:
                lines.append(line + ' \\')
                line = '    '
            line += ('' if line.strip() == '' else ' ') + token
        lines.append(line)
    return lines + ['```', '', '</details>']


def recorded_seconds(value):
    """The wall seconds a record holds (its runs' ``wall_seconds``,
    ``train_wall_seconds`` and ``seconds``, summed at any depth)."""
    if isinstance(value, list):
        return sum(recorded_seconds(v) for v in value)
    if not isinstance(value, dict):
        return 0.0
    return sum(v if k in TIMED and isinstance(v, (int, float))
               else recorded_seconds(v) for k, v in value.items())


def costs_table():
    """The cost table of ``benchmarks/README.md`` (its ``costs`` block),
    from every results file: what its recorded runs took."""
    rows = ['| results | recorded wall time (h) |', '|---|---|']
    for path in sorted(glob.glob(osp.join(RESULTS_DIR, '*.json'))):
        hours = recorded_seconds(load(path)) / 3600
        rows.append(f'| `{osp.basename(path)}` | '
                    f'{f"{hours:.1f}" if hours else "not recorded"} |')
    return '\n'.join(rows)


def write_costs(readme=README):
    """Rewrite the ``costs`` block of ``benchmarks/README.md``."""
    replace_marked_block(readme, 'costs', costs_table())
