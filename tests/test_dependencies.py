"""setup.py declares every import of the package, its tools, benchmarks
and tests, and requirements.txt pins every declared requirement. What
matters is that some declared distribution provides each import: cv2, for
one, comes from any of OpenCV's builds."""
import ast
import glob
import importlib.metadata
import os.path as osp
import re
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: Distributions that provide the same module, any of which will do.
ALTERNATIVES = {
    'cv2': {'opencv-python', 'opencv-python-headless',
            'opencv-contrib-python', 'opencv-contrib-python-headless'},
}


def normalise(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def requirement_name(spec):
    return normalise(re.split(r'[<>=!~;\[ ]', spec, maxsplit=1)[0])


def setup_requirements():
    """install_requires and extras_require of setup.py, read without
    running it."""
    tree = ast.parse(open(osp.join(REPO, 'setup.py')).read())
    call = next(node for node in ast.walk(tree)
                if isinstance(node, ast.Call)
                and getattr(node.func, 'id', None) == 'setup')
    keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords
                if k.arg in ('install_requires', 'extras_require')}
    required = {requirement_name(r) for r in keywords['install_requires']}
    extras = {
        extra: {requirement_name(r) for r in specs}
        for extra, specs in keywords.get('extras_require', {}).items()
    }
    return required, extras


def imported_modules(files):
    """Top-level module name -> files importing it (absolute imports,
    at any depth of the file)."""
    modules = {}
    for path in files:
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                modules.setdefault(name.split('.')[0], set()).add(
                    osp.relpath(path, REPO))
    return modules


def undeclared(files, declared, local):
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for module, users in sorted(imported_modules(files).items()):
        if module in sys.stdlib_module_names or module in local:
            continue
        installed = {normalise(d) for d in distributions.get(module, [])}
        provided_by = installed | ALTERNATIVES.get(module, set())
        if not installed:
            problems.append(f'{module} (imported by {sorted(users)}) is not '
                            'installed')
        elif not provided_by & declared:
            problems.append(f'{module} (imported by {sorted(users)}) comes '
                            f'from {sorted(provided_by)}, not declared in '
                            'setup.py')
    return problems


def test_package_imports_are_install_requires():
    required, _ = setup_requirements()
    files = glob.glob(osp.join(REPO, 'crackdino_mm', '**', '*.py'),
                      recursive=True)
    assert not undeclared(files, required, {'crackdino_mm'})


def test_tool_and_benchmark_imports_are_declared():
    """Tools may use an extra (e.g. export_onnx: onnxruntime)."""
    required, extras = setup_requirements()
    declared = required.union(*extras.values())
    files = glob.glob(osp.join(REPO, 'tools', '**', '*.py'),
                      recursive=True) + glob.glob(
                          osp.join(REPO, 'benchmarks', '**', '*.py'),
                          recursive=True)
    # Benchmarks import the studies' shared package as ``harness``.
    local = {'crackdino_mm', 'harness'} | {
        osp.splitext(osp.basename(f))[0] for f in files
    }
    assert not undeclared(files, declared, local)


def test_test_imports_are_declared():
    """The tests may use any extra (test_export: onnxruntime)."""
    required, extras = setup_requirements()
    files = glob.glob(osp.join(REPO, 'tests', '**', '*.py'), recursive=True)
    local = {'crackdino_mm'} | {
        osp.splitext(osp.basename(f))[0] for f in files
    }
    assert not undeclared(files, required.union(*extras.values()), local)


def test_any_opencv_build_provides_cv2(tmp_path, monkeypatch):
    script = tmp_path / 'tool.py'
    script.write_text('import cv2\n')
    for build in ('opencv-python', 'opencv-python-headless'):
        monkeypatch.setattr(importlib.metadata, 'packages_distributions',
                            lambda: {'cv2': [build]})
        assert not undeclared([str(script)], {'opencv-python-headless'},
                              set())
    assert undeclared([str(script)], {'numpy'}, set())


def test_declared_requirements_are_pinned():
    required, extras = setup_requirements()
    pinned = {}
    for line in open(osp.join(REPO, 'requirements.txt')):
        line = line.split('#')[0].strip()
        if line:
            name, _, version = line.partition('==')
            assert version, f'requirements.txt: {line!r} is not pinned'
            pinned[normalise(name)] = version
    missing = required.union(*extras.values()) - set(pinned)
    assert not missing, f'not pinned in requirements.txt: {sorted(missing)}'


def test_scan_catches_an_undeclared_import(tmp_path):
    script = tmp_path / 'tool.py'
    script.write_text('import os\n\ndef main():\n    import tqdm\n')
    problems = undeclared([str(script)], {'torch'}, set())
    assert len(problems) == 1 and 'tqdm' in problems[0]
