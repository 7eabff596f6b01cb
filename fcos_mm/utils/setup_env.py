"""Import every module that registers into the ``fcos_mm`` registries."""
from mmengine.registry import init_default_scope as _init_default_scope

from fcos_mm.registry import SCOPE


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmdet's modules and ours, optionally making ``fcos_mm`` the
    default scope.

    Registry nodes also import their modules lazily on first lookup (see
    :mod:`fcos_mm.registry`), so this is only needed by code that wants all
    classes registered up front, e.g. to list them.

    Args:
        init_default_scope (bool): Whether to make ``'fcos_mm'`` the current
            default scope (through mmengine's ``init_default_scope``, which
            creates a fresh scope instance if another one is current).
    """
    from mmdet.utils import register_all_modules as mmdet_register_all

    mmdet_register_all(init_default_scope=False)
    import fcos_mm.apis  # noqa: F401
    import fcos_mm.datasets  # noqa: F401
    import fcos_mm.deployment  # noqa: F401
    import fcos_mm.engine  # noqa: F401
    import fcos_mm.evaluation  # noqa: F401
    import fcos_mm.models  # noqa: F401

    if init_default_scope:
        _init_default_scope(SCOPE)
