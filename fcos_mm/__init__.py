"""fcos_mm: FCOS on mmengine, mmcv and mmdet.

Importing the package checks that the installed OpenMMLab libraries fall in
the versions we are tested with, and makes checkpoint loading safe under
torch's ``weights_only`` unpickler (see :mod:`fcos_mm.utils.checkpoint`).
"""
from .version import __version__, version_info

MMCV_WINDOW = ('2.0.0', '2.2.0')
MMENGINE_WINDOW = ('0.10.0', '1.0.0')
MMDET_WINDOW = ('3.3.0', '3.4.0')

_INSTALL_HINT = ('Run `bash tools/misc/setup_env.sh` (CPU) or see README.md '
                 '"With a GPU" for the commands.')


def _check_version(package: str, window: tuple) -> None:
    """Raise an ImportError saying what to install if ``package`` is off."""
    from importlib import import_module

    from packaging.version import parse
    low, high = window
    wanted = f'{package}>={low},<{high}'
    try:
        installed = import_module(package).__version__
    except ImportError as e:
        raise ImportError(
            f'fcos_mm needs {wanted}, which is not installed. '
            f'{_INSTALL_HINT}') from e
    if not parse(low) <= parse(installed) < parse(high):
        raise ImportError(
            f'fcos_mm needs {wanted}, but {package}=={installed} is '
            f'installed. Install a version in that window, e.g. '
            f'`pip install "{wanted}"`. {_INSTALL_HINT}')


for _package, _window in (('mmcv', MMCV_WINDOW),
                          ('mmengine', MMENGINE_WINDOW),
                          ('mmdet', MMDET_WINDOW)):
    _check_version(_package, _window)

from .utils.checkpoint import register_safe_checkpoint_loader  # noqa: E402

register_safe_checkpoint_loader()

__all__ = ['__version__', 'version_info']
