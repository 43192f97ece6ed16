"""Imports of the OpenMMLab stack without two messages that mean nothing
to a crack model's user: mmseg and mmpretrain print "Could not import
OneDL" (an optional dataset backend), and mmcv warns that its
deformable attention needs compiled ops (no config here uses it)."""
import contextlib
import io
import warnings


def import_stack_quietly() -> None:
    """Import the modules that print those messages, with just those
    messages silenced; anything else they print still shows."""
    printed = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
        warnings.filterwarnings(
            'ignore', message='Fail to import ``MultiScaleDeformableAttention')
        import mmcv.cnn.bricks.transformer  # noqa: F401
        import mmpretrain.datasets  # noqa: F401
        import mmseg.datasets  # noqa: F401
    rest = printed.getvalue().replace('Could not import OneDL\n', '')
    if rest:
        print(rest, end='')
