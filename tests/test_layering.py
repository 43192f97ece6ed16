"""The layers as the code's own imports show them: tools reach the package
only through ``crackdino_mm.apis`` and ``crackdino_mm.inspection``;
``engine`` never imports ``apis``; inspection is a sub-package; the
package never imports tools/ or benchmarks/; a benchmark study imports
no other study (what they share is ``benchmarks/harness``); no file edits
``sys.path``."""
import ast
import glob
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL_ENTRANCES = ('crackdino_mm.apis', 'crackdino_mm.inspection')


def imported_modules(source):
    """Every module an ``import`` or absolute ``from`` statement names."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.append(node.module)
    return names


def studies():
    return {osp.basename(p)[:-3]: p for p in glob.glob(
        osp.join(REPO, 'benchmarks', '*.py'))}


def study_imports(path, source=None):
    """The benchmark studies a file (or source standing at path) imports."""
    source = open(path).read() if source is None else source
    return [n for n in imported_modules(source)
            if n.split('.')[0] in studies()]


def edits_sys_path(source):
    """Whether code reaches ``sys.path`` (to change where imports look)."""
    return any(isinstance(node, ast.Attribute) and node.attr == 'path' and
               isinstance(node.value, ast.Name) and node.value.id == 'sys'
               for node in ast.walk(ast.parse(source)))


def python_files():
    return [p for folder in ('crackdino_mm', 'tools', 'benchmarks', 'tests',
                             'configs')
            for p in glob.glob(osp.join(REPO, folder, '**', '*.py'),
                               recursive=True)]


def package_imports(path, source=None):
    """The crackdino_mm modules a file (or source standing at path)
    imports, relative imports resolved against the file's package."""
    package = osp.relpath(osp.dirname(path), REPO).replace(osp.sep, '.')
    names = []
    source = open(path).read() if source is None else source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                base = parts[:len(parts) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module
                                          else []))
            else:
                module = node.module
            names.append(module)
    return [n for n in names if n.split('.')[0] == 'crackdino_mm']


def outside(names, entrances):
    return [n for n in names
            if not any(n == e or n.startswith(e + '.') for e in entrances)]


def test_tools_enter_the_package_through_apis_and_inspection():
    tools = glob.glob(osp.join(REPO, 'tools', '**', '*.py'), recursive=True)
    wrong = {osp.relpath(t, REPO): outside(package_imports(t),
                                           TOOL_ENTRANCES) for t in tools}
    assert {t: n for t, n in wrong.items() if n} == {}


def test_engine_imports_nothing_from_apis():
    files = glob.glob(osp.join(REPO, 'crackdino_mm', 'engine', '**', '*.py'),
                      recursive=True)
    upward = {osp.relpath(f, REPO): [n for n in package_imports(f)
                                     if n.startswith('crackdino_mm.apis')]
              for f in files}
    assert {f: n for f, n in upward.items() if n} == {}


def test_the_scan_sees_relative_and_absolute_imports(tmp_path):
    """The scan can fail: an internal module a file imports is named."""
    tool = osp.join(REPO, 'crackdino_mm', 'engine', 'hooks', 'probe.py')
    source = ('from ...apis import init_crack_model\n'
              'import crackdino_mm.utils.calibration\n')
    names = package_imports(tool, source)
    assert names == ['crackdino_mm.apis', 'crackdino_mm.utils.calibration']
    assert outside(names, TOOL_ENTRANCES) == [
        'crackdino_mm.utils.calibration']


def test_no_inspection_module_in_the_package_root():
    root = {osp.basename(p)[:-3] for p in glob.glob(
        osp.join(REPO, 'crackdino_mm', '*.py'))}
    inspection = {osp.basename(p)[:-3] for p in glob.glob(
        osp.join(REPO, 'crackdino_mm', 'inspection', '*.py'))} - {
            '__init__'}
    assert inspection and not root & inspection


def test_no_study_imports_another():
    files = glob.glob(osp.join(REPO, 'benchmarks', '**', '*.py'),
                      recursive=True)
    found = {osp.relpath(f, REPO): study_imports(f) for f in files}
    assert {f: n for f, n in found.items() if n} == {}


def test_the_package_imports_no_tool_nor_benchmark():
    files = glob.glob(osp.join(REPO, 'crackdino_mm', '**', '*.py'),
                      recursive=True)
    found = {osp.relpath(f, REPO): [
        n for n in imported_modules(open(f).read())
        if n.split('.')[0] in ('tools', 'benchmarks', 'harness')]
        for f in files}
    assert {f: n for f, n in found.items() if n} == {}


def test_nothing_edits_sys_path():
    found = [osp.relpath(f, REPO) for f in python_files()
             if edits_sys_path(open(f).read())]
    assert found == []


def test_the_study_and_path_scans_can_fail():
    study = osp.join(REPO, 'benchmarks', 'probe.py')
    source = ('import sys\nsys.path.insert(0, ".")\n'
              'import deepcrack_cpu as dc\nfrom harness import records\n'
              'from site_adaptation_cpu import SITES\n')
    assert study_imports(study, source) == ['deepcrack_cpu',
                                            'site_adaptation_cpu']
    assert edits_sys_path(source)
    assert not edits_sys_path('import os\nos.path.join("a")\n')
