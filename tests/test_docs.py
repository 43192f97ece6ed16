"""README.md and docs/ stay true: every relative link and anchor resolves
(GitHub's heading slugs), every config path they name exists, and every
``python tools/X.py ...`` command they show parses with that tool's own
argument parser."""
import glob
import importlib.util
import os.path as osp
import re
import shlex
import sys

import pytest

from script_modules import CONVERTERS, SHARED_CONVERTER, script_module

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = ['README.md'] + sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'docs', '**', '*.md'), recursive=True))

FENCE = re.compile(r'^(```|~~~).*?^\1', re.S | re.M)
CODE_SPAN = re.compile(r'`[^`\n]+`')
LINK = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
CONFIG = re.compile(r'(?<![\w/.])configs/[\w./*-]*[\w*]')
BLOCK_BODY = re.compile(r'^(```|~~~)[^\n]*\n(.*?)^\1', re.S | re.M)
COMMAND = re.compile(r'python (tools/[\w/-]+\.py)\b')


def read(path):
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        return f.read()


def without_code(text):
    """The text with fenced blocks and code spans blanked (links and
    headings in code are not links and headings)."""
    return CODE_SPAN.sub('', FENCE.sub('', text))


def slug(heading):
    """GitHub's anchor for a heading: the rendered text, lower case, without
    punctuation other than '-' and '_', spaces turned into '-'."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)
    text = re.sub(r'<[^>]+>', '', text).replace('`', '')
    text = re.sub(r'[^\w\- ]', '', text.strip().lower())
    return text.replace(' ', '-')


def anchors(text):
    """Every anchor the headings of a Markdown text define (a repeated
    heading gets -1, -2, ... as on GitHub)."""
    seen, found = {}, set()
    for line in FENCE.sub('', text).splitlines():
        match = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f'{base}-{count}')
    return found


def broken_links(path, text, root=REPO):
    """The relative links of ``text`` (the file ``path`` under ``root``)
    whose file or anchor does not exist."""
    problems = []
    for target in LINK.findall(without_code(text)):
        if re.match(r'[a-z][a-z0-9+.-]*:', target, re.I):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition('#')
        if not file_part:
            if anchor not in anchors(text):
                problems.append(f'{path}: no heading for anchor {target}')
            continue
        full = osp.join(root, osp.dirname(path), file_part)
        if not osp.exists(full):
            problems.append(f'{path}: link to missing {target}')
        elif anchor and (not full.endswith('.md')
                         or anchor not in anchors(open(full).read())):
            problems.append(f'{path}: no heading for anchor {target}')
    return problems


def missing_configs(path, text, root=REPO):
    """The config paths (files, folders or globs) named in ``text`` that
    match nothing in the repository."""
    return [f'{path}: no such config {name}'
            for name in sorted(set(CONFIG.findall(text)))
            if not glob.glob(osp.join(root, name.rstrip('.')))]


def shown_commands(text):
    """Every ``python tools/X.py ...`` command of ``text``, as argument
    lists (code blocks with their line continuations, and code spans)."""
    pieces = []
    for block in BLOCK_BODY.findall(text):
        pieces += block[1].replace('\\\n', ' ').splitlines()
    pieces += [span.strip('`') for span in CODE_SPAN.findall(
        FENCE.sub('', text))]
    commands = []
    for piece in pieces:
        match = COMMAND.search(piece)
        if match:
            words = shlex.split(piece[match.start():], comments=True)
            for i, word in enumerate(words):
                if word in ('|', '&&', ';', '>', '2>&1'):
                    words = words[:i]
                    break
            commands.append(words[1:])
    return commands


def load_tool(path):
    """A tool's module, under a name of its own (``tools/test.py`` is not
    the standard library's ``test``)."""
    name = 'docs_' + osp.splitext(osp.basename(path))[0]
    if path.startswith(CONVERTERS):  # their shared module, as when run
        script_module(CONVERTERS + SHARED_CONVERTER)
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, osp.join(REPO, path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def stock_module(script):
    """One of MMSeg's own tools as a module (not run)."""
    name = 'docs_mmseg_' + osp.splitext(osp.basename(script))[0]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def parse_with_argv(parse_args, argv, monkeypatch):
    """Call a ``parse_args()`` that reads ``sys.argv``."""
    monkeypatch.setattr(sys, 'argv', ['tool'] + list(argv))
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    return parse_args()


def parse_command(words, monkeypatch):
    """Parse ``tools/X.py ARGS...`` with that tool's parser; SystemExit when
    the parser refuses it."""
    tool, argv = words[0], words[1:]
    if not osp.isfile(osp.join(REPO, tool)):
        raise SystemExit(f'no such tool {tool}')
    if tool == 'tools/train.py':
        stock = load_tool(tool).stock_tool('train.py')
        return parse_with_argv(stock_module(stock).parse_args, argv,
                               monkeypatch)
    module = load_tool(tool)
    if tool == 'tools/test.py':
        _, rest = module.parse_args(argv)
        stock = stock_module(load_tool('tools/train.py').stock_tool(
            'test.py'))
        return parse_with_argv(stock.parse_args, rest, monkeypatch)
    if not hasattr(module, 'parse_args'):
        raise SystemExit(f'{tool} has no parse_args to check it with')
    try:
        return module.parse_args(argv)
    except TypeError:  # a parse_args() that reads sys.argv
        return parse_with_argv(module.parse_args, argv, monkeypatch)


def refused(words, monkeypatch, capsys):
    """The parser's message when it refuses a command, else None."""
    try:
        parse_command(words, monkeypatch)
    except SystemExit as error:
        return f'{" ".join(words)}: {capsys.readouterr().err or error}'
    return None


def test_docs_exist():
    for path in ('README.md', 'docs/get_started.md', 'docs/design.md',
                 'docs/results.md', 'docs/user_guides/train_test.md',
                 'docs/user_guides/inference.md',
                 'docs/user_guides/new_site.md'):
        assert path in DOCS, path


@pytest.mark.parametrize('path', DOCS)
def test_links_and_anchors_resolve(path):
    assert broken_links(path, read(path)) == []


@pytest.mark.parametrize('path', DOCS)
def test_named_configs_exist(path):
    assert missing_configs(path, read(path)) == []


@pytest.mark.parametrize('path', DOCS)
def test_shown_tool_commands_parse(path, monkeypatch, capsys):
    commands = shown_commands(read(path))
    problems = [refused(words, monkeypatch, capsys) for words in commands]
    assert [p for p in problems if p] == []


def test_readme_shows_commands():
    tools = {words[0] for words in shown_commands(read('README.md'))}
    assert {'tools/train.py', 'tools/test.py', 'tools/infer.py',
            'tools/adapt.py'} <= tools


def test_checkers_catch_a_bad_page(tmp_path, monkeypatch, capsys):
    """A broken link, a wrong anchor, a missing config and a command its
    tool refuses are each reported; their good twins are not."""
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'other.md').write_text('# Other page\n## A `b` c\n')
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'real.py').write_text('')
    page = ('# Title\n'
            '[ok](other.md#a-b-c) [same](#title) [web](https://x.org/y)\n'
            '[gone](missing.md) [bad anchor](other.md#nothing)\n'
            'see `configs/real.py` and `configs/nothing.py`\n'
            '```bash\n# not a heading\n```\n')
    assert broken_links('docs/page.md', page, str(tmp_path)) == [
        'docs/page.md: link to missing missing.md',
        'docs/page.md: no heading for anchor other.md#nothing'
    ]
    assert missing_configs('docs/page.md', page, str(tmp_path)) == [
        'docs/page.md: no such config configs/nothing.py'
    ]
    text = ('```bash\npython tools/infer.py CONFIG CKPT photos/ \\\n'
            '    --scale 2 --out-dir out  # a comment\n'
            'python tools/adapt.py CONFIG CKPT --images a --masks b\n```\n'
            '`python tools/export_student.py A B --confg C`\n')
    commands = shown_commands(text)
    assert commands[0] == ['tools/infer.py', 'CONFIG', 'CKPT', 'photos/',
                           '--scale', '2', '--out-dir', 'out']
    verdicts = [refused(words, monkeypatch, capsys) for words in commands]
    assert verdicts[0] is None
    assert '--out' in verdicts[1]  # adapt.py requires --out
    assert 'unrecognized arguments: --confg' in verdicts[2]
    assert refused(['tools/nothing.py'], monkeypatch, capsys)


def test_stock_tools_parse(monkeypatch, capsys):
    """tools/train.py and tools/test.py are parsed by MMSeg's parsers, with
    the project's --threshold/--scale taken off first."""
    assert refused(['tools/train.py', 'c.py', '--resume', '--amp'],
                   monkeypatch, capsys) is None
    assert refused(['tools/test.py', 'c.py', 'k.pth', '--tta',
                    '--threshold', '0.3'], monkeypatch, capsys) is None
    assert refused(['tools/test.py', 'c.py', '--tta'], monkeypatch, capsys)
    assert refused(['tools/train.py', 'c.py', '--no-such-option'], monkeypatch,
                   capsys)


def test_slug_follows_github():
    assert slug('A new site: adapt a trained model') == \
        'a-new-site-adapt-a-trained-model'
    assert slug('`tools/infer.py` & the report') == 'toolsinferpy--the-report'
    assert anchors('# X\n## X\n```\n# Y\n```\n') == {'x', 'x-1'}
