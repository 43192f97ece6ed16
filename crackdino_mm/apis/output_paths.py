"""Refusals before any work: an output that would replace an input, or
that names a file where a folder is expected (or the reverse). Each is a
ValueError of one line, raised before anything is loaded or written."""
import os.path as osp
from typing import Iterable, Optional, Tuple


def _same(a: str, b: str) -> bool:
    """Whether two paths are one file or folder (links resolved)."""
    if osp.exists(a) and osp.exists(b):
        return osp.samefile(a, b)
    return osp.realpath(a) == osp.realpath(b)


def check_output_file(out: str, option: str,
                      inputs: Iterable[Tuple[str, Optional[str]]] = (),
                      overwrite: Optional[bool] = None) -> None:
    """Refuse an output file that is a folder or would replace an input.

    Args:
        out (str): The output file.
        option (str): The option that named it, for the message.
        inputs (Iterable[Tuple[str, Optional[str]]]): (what, path) of the
            inputs it must not replace (a link to one counts as it).
        overwrite (bool, optional): Whether the tool's ``--overwrite`` was
            given (then an input may be replaced); None for a tool without
            that option (never, and the message does not offer it).

    Raises:
        ValueError: One line naming ``option``, ``out`` and the input.
    """
    if osp.isdir(out):
        raise ValueError(f'{option} {out} is a folder; expected the file '
                         'to write')
    for what, path in inputs:
        if path and not overwrite and _same(out, path):
            hint = '' if overwrite is None else \
                ', or --overwrite to replace it'
            raise ValueError(
                f'{option} {out} is the {what} ({path}): it would be '
                f'overwritten; give another path{hint}')


def check_output_folder(out_dir: str, option: str,
                        input_folders: Iterable[str] = ()) -> None:
    """Refuse an output folder ``out_dir`` (named by ``option``) that is an
    existing file or one of ``input_folders`` (the photos' own folders:
    outputs would be mixed with them).

    Args:
        out_dir (str): The folder to be written into.
        option (str): The option that gave it (``--out-dir``), for the
            error.
        input_folders (Iterable[str]): The folders the inputs are read
            from; empty entries are skipped. Defaults to none.

    Raises:
        ValueError: If ``out_dir`` is an existing file or one of
            ``input_folders``.
    """
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ValueError(f'{option} {out_dir} is a file; expected a folder '
                         'for the outputs')
    for folder in input_folders:
        if folder and _same(out_dir, folder):
            raise ValueError(
                f'{option} {out_dir} is the folder of the input photos '
                f'({folder}): the outputs would be mixed with them; give '
                'another folder')
