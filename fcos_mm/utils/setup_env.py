"""Register every module of mmdet and fcos_mm, visibly."""
from mmengine.registry import Registry
from mmengine.registry import init_default_scope as _init_default_scope

from fcos_mm import registry
from fcos_mm.registry import SCOPE

from .checkpoint import register_safe_checkpoint_loader


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import the modules of every registry node, install the safe
    checkpoint loader, and optionally make ``fcos_mm`` the default scope.

    The modules are our nodes' ``locations``, mmdet's then ours (see
    :mod:`fcos_mm.registry`), which a lookup imports lazily anyway: this is
    for code that wants every class up front, e.g. to list them.

    Args:
        init_default_scope (bool): Whether to make ``'fcos_mm'`` the current
            default scope (a fresh scope instance if another one is current).
    """
    for node in vars(registry).values():
        if isinstance(node, Registry) and node.scope == SCOPE:
            node.import_from_location()
    register_safe_checkpoint_loader()
    if init_default_scope:
        _init_default_scope(SCOPE)
