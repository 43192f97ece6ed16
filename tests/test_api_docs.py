"""The public API documented as MMSegmentation documents its own: every
function and class that ``crackdino_mm.apis`` and ``crackdino_mm.inspection``
export, and every other public function of three or more parameters in
their modules, has a Google-style docstring whose ``Args:`` names each
parameter and whose ``Returns:`` says what comes back (unless the
annotation says None); each package's ``__all__`` lists what it exports."""
import importlib
import inspect
import pkgutil
import re
from typing import NoReturn

import pytest

import crackdino_mm.apis
import crackdino_mm.inspection

PACKAGES = (crackdino_mm.apis, crackdino_mm.inspection)

def section_entries(doc, title):
    """Names of the entries of a docstring's section (``Args:``), the
    stars of ``*args``/``**kwargs`` dropped; None without the section."""
    lines = inspect.cleandoc(doc).splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == title + ':']
    if not starts:
        return None
    indent = len(lines[starts[0]]) - len(lines[starts[0]].lstrip())
    names, entry_indent = [], None
    for line in lines[starts[0] + 1:]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth <= indent:
            break
        entry_indent = entry_indent or depth
        entry = re.match(r'\s*\**(\w+)\s*(\(.*\))?:', line)
        if depth == entry_indent and entry:
            names.append(entry.group(1))
    return names


def parameters(obj):
    """Parameter names of a function or of a class's constructor (none
    where Python cannot tell, as for a built-in exception's)."""
    try:
        signature = inspect.signature(obj)
    except ValueError:
        return []
    return [name for name in signature.parameters
            if name not in ('self', 'cls')]


def returns_none(func):
    """Whether a function returns nothing (None, or never: NoReturn)."""
    annotation = inspect.signature(func).return_annotation
    return annotation in (None, 'None', NoReturn, 'NoReturn')


def callable_problems(func, name, constructor=False):
    """What the own docstring of a function (or of a class, for its
    constructor's parameters) lacks; empty when nothing."""
    doc = func.__doc__
    if not doc or not doc.strip():
        return [f'{name}: no docstring']
    problems = []
    params = parameters(func)
    documented = section_entries(doc, 'Args')
    if params and documented is None:
        problems.append(f'{name}: no Args: section')
    elif params:
        problems += [f'{name}: Args: lacks {p}' for p in params
                     if p not in documented]
    if not constructor and not returns_none(func) and \
            section_entries(doc, 'Returns') is None and \
            section_entries(doc, 'Yields') is None:
        problems.append(f'{name}: no Returns: section')
    return problems


def problems_of(obj, name):
    """What the docstrings of a function, or of a class and its own public
    methods and properties, lack."""
    if not inspect.isclass(obj):
        return callable_problems(obj, name)
    # A constructor inherited unchanged is documented where it is defined.
    problems = callable_problems(obj, name, constructor=True) \
        if '__init__' in vars(obj) or not obj.__doc__ else []
    for attr, member in vars(obj).items():
        if attr.startswith('_'):
            continue
        if isinstance(member, property):
            if not (member.fget.__doc__ or '').strip():
                problems.append(f'{name}.{attr}: no docstring')
        elif isinstance(member, (staticmethod, classmethod)):
            problems += callable_problems(member.__func__, f'{name}.{attr}')
        elif inspect.isfunction(member):
            problems += callable_problems(member, f'{name}.{attr}')
    return problems


def exported():
    """(name, object) of every function and class the packages export."""
    return [(name, getattr(package, name)) for package in PACKAGES
            for name in package.__all__
            if inspect.isclass(getattr(package, name))
            or inspect.isfunction(getattr(package, name))]


def other_public_functions():
    """(name, function) of the public functions of three or more
    parameters defined in the packages' modules."""
    found = []
    for package in PACKAGES:
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f'{package.__name__}.'
                                             f'{info.name}')
            for name, obj in vars(module).items():
                if (inspect.isfunction(obj) and not name.startswith('_')
                        and obj.__module__ == module.__name__
                        and len(inspect.signature(obj).parameters) >= 3):
                    found.append((f'{module.__name__}.{name}', obj))
    return found


@pytest.mark.parametrize('package', PACKAGES, ids=lambda p: p.__name__)
def test_all_lists_every_public_name(package):
    public = {name for name, value in vars(package).items()
              if not name.startswith('_') and not inspect.ismodule(value)}
    assert sorted(public ^ set(package.__all__)) == []


def test_exported_functions_and_classes_are_documented():
    names = [name for name, _ in exported()]
    assert 'CrackInferencer' in names and 'measure_each_crack' in names
    problems = [p for name, obj in exported()
                for p in problems_of(obj, name)]
    assert problems == []


def test_public_functions_of_three_or_more_parameters_are_documented():
    functions = other_public_functions()
    assert any(name.endswith('.finetune_config') for name, _ in functions)
    problems = [p for name, obj in functions
                for p in problems_of(obj, name)]
    assert problems == []


# The checker on small examples, good and bad.


def _documented(photo, scale=1.0, **kwargs):
    """Scale a photo.

    Args:
        photo (np.ndarray): The photo.
        scale (float): Its scale. Defaults to 1.0.
        **kwargs: Passed on.

    Returns:
        np.ndarray: The scaled photo.
    """


def _lacks_a_parameter(photo, scale=1.0):
    """Scale a photo.

    Args:
        photo (np.ndarray): The photo, at any
            scale: a line of a description is no entry.

    Returns:
        np.ndarray: The scaled photo.
    """


def _lacks_returns(photo):
    """Scale a photo.

    Args:
        photo (np.ndarray): The photo.
    """


def _returns_nothing(photo) -> None:
    """Check a photo.

    Args:
        photo (np.ndarray): The photo.
    """


class _Example:
    """A class.

    Args:
        size (int): Its size.
    """

    def __init__(self, size, colour):
        pass

    def public(self):
        return 1

    @property
    def area(self):
        return 1


def test_checker_accepts_a_complete_docstring():
    assert callable_problems(_documented, 'f') == []
    assert callable_problems(_returns_nothing, 'f') == []


def test_checker_refuses_what_is_missing():
    assert callable_problems(_lacks_a_parameter, 'f') == [
        'f: Args: lacks scale']
    assert callable_problems(_lacks_returns, 'f') == [
        'f: no Returns: section']
    assert problems_of(_Example, 'C') == [
        'C: Args: lacks colour', 'C.public: no docstring',
        'C.area: no docstring']
