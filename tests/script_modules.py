"""Scripts of tools/ and benchmarks/, imported by their file path (the
package never imports them, and the tests leave sys.path alone), the
benchmarks' shared ``harness`` package, and benchmark sittings run at
once."""
import importlib
import importlib.util
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: The dataset converters, and the module they share (beside them when
#: one runs).
CONVERTERS = 'tools/dataset_converters/'
SHARED_CONVERTER = 'crack_site_sources.py'


def harness(module: str):
    """``benchmarks/harness/<module>.py``, imported as ``harness.<module>``
    as a study sees it (``python benchmarks/<study>.py`` puts benchmarks/
    on the path; here the package is registered by its file path)."""
    if 'harness' not in sys.modules:
        folder = osp.join(REPO, 'benchmarks', 'harness')
        spec = importlib.util.spec_from_file_location(
            'harness', osp.join(folder, '__init__.py'),
            submodule_search_locations=[folder])
        package = importlib.util.module_from_spec(spec)
        sys.modules['harness'] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f'harness.{module}')


def script_module(path: str):
    """The module of the script at ``path`` (relative to the repository).

    Imported once and registered under the file's name; a benchmark finds
    the ``harness`` package as it does when run.
    """
    if path.startswith('benchmarks/'):
        harness('records')
    if path.startswith(CONVERTERS) and not path.endswith(SHARED_CONVERTER):
        script_module(CONVERTERS + SHARED_CONVERTER)
    name = osp.splitext(osp.basename(path))[0]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name,
                                                      osp.join(REPO, path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def run_sittings(target, *arg_tuples):
    """Run ``target(*args)`` for each tuple in forked processes at once
    (sittings of a benchmark sharing the machine) and wait for all."""
    import multiprocessing
    context = multiprocessing.get_context('fork')
    sittings = [context.Process(target=target, args=args)
                for args in arg_tuples]
    for sitting in sittings:
        sitting.start()
    for sitting in sittings:
        sitting.join()
