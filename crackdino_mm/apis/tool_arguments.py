"""Command-line arguments checked by the same rules as the library: a
scale or threshold a tool's parser accepts is one the model accepts, and a
bad one is refused in one line before anything loads."""
import argparse
from typing import NoReturn

from ..utils import check_scale, check_threshold


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose error is one line (exit status 2)
    without the usage block: the project's form for every bad input
    (``--help`` still shows the usage)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: MESSAGE`` on stderr and exit with status 2.

        Args:
            message (str): argparse's message, naming the argument.

        Raises:
            SystemExit: Always, with status 2.
        """
        self.exit(2, f'{self.prog}: {message}\n')


def scale_argument(text: str) -> float:
    """argparse ``type=`` of a test-time scale, checked by ``check_scale``.

    Args:
        text (str): The value on the command line.

    Returns:
        float: The scale, in [0.25, 4].

    Raises:
        argparse.ArgumentTypeError: Naming the allowed range.
    """
    return _checked(check_scale, text, 'scale')


def threshold_argument(text: str) -> float:
    """argparse ``type=`` of a decision threshold, checked by
    ``check_threshold``.

    Args:
        text (str): The value on the command line.

    Returns:
        float: The threshold, in (0, 1).

    Raises:
        argparse.ArgumentTypeError: Naming the allowed range.
    """
    return _checked(check_threshold, text, 'threshold')


def _checked(check, text: str, what: str) -> float:
    """``check(text, what)``, its ValueError as argparse's error."""
    try:
        return check(text, what)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
