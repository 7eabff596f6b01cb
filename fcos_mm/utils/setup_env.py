"""Register every module of mmdet and fcos_mm, visibly."""
from mmengine.registry import Registry
from mmengine.registry import init_default_scope as _init_default_scope

from fcos_mm import registry
from fcos_mm.registry import SCOPE

from .checkpoint import register_safe_checkpoint_loader


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import the modules of every registry node, install the safe
    checkpoint loader, and optionally make ``fcos_mm`` the default scope.

    The modules are those our nodes list as ``locations`` (mmdet's of that
    kind, then ours; see :mod:`fcos_mm.registry`), the single list of what
    registers. A lookup imports them lazily anyway, so this is for code that
    wants every class up front, e.g. to list them. The checkpoint loader
    (:func:`~fcos_mm.utils.register_safe_checkpoint_loader`) is installed
    here rather than on ``import fcos_mm``.

    Args:
        init_default_scope (bool): Whether to make ``'fcos_mm'`` the current
            default scope (through mmengine's ``init_default_scope``, which
            creates a fresh scope instance if another one is current).
    """
    from mmdet.utils import register_all_modules as mmdet_register_all

    mmdet_register_all(init_default_scope=False)
    for node in vars(registry).values():
        if isinstance(node, Registry) and node.scope == SCOPE:
            node.import_from_location()
    register_safe_checkpoint_loader()
    if init_default_scope:
        _init_default_scope(SCOPE)
