"""Scripts of tools/ and benchmarks/, imported by their file path (the
package never imports them, and the tests leave sys.path alone), and
benchmark sittings run at once."""
import importlib.util
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def script_module(path: str):
    """The module of the script at ``path`` (relative to the repository).

    Imported once and registered under the file's name, so that a script
    importing it by that name (a benchmark its sibling) shares it.
    """
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
