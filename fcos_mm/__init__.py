"""fcos_mm: FCOS on mmengine, mmcv and mmdet.

Importing the package only checks that the installed OpenMMLab libraries fall
in the versions we are tested with: it registers and patches nothing
(``fcos_mm.utils.register_all_modules`` does that, visibly).
"""
from .version import __version__, version_info

# The [low, high) versions we are tested with.
VERSION_WINDOWS = dict(
    mmcv=('2.0.0', '2.2.0'), mmengine=('0.10.0', '1.0.0'),
    mmdet=('3.3.0', '3.4.0'))

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


for _package, _window in VERSION_WINDOWS.items():
    _check_version(_package, _window)

__all__ = ['__version__', 'version_info']
