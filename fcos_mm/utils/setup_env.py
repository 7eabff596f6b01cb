"""Import every module that registers into the ``fcos_mm`` registries."""
import datetime
import warnings

from mmengine import DefaultScope

from fcos_mm.registry import SCOPE


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmdet's modules and ours, optionally making ``fcos_mm`` the
    default scope.

    Registry nodes also import their modules lazily on first lookup (see
    :mod:`fcos_mm.registry`), so this is only needed by code that wants all
    classes registered up front, e.g. to list them.

    Args:
        init_default_scope (bool): Whether to set the default scope to
            ``'fcos_mm'``. If another default scope is already set, a new one
            named ``fcos_mm-<timestamp>`` is created and made current, as
            mmdet's own ``register_all_modules`` does.
    """
    from mmdet.utils import register_all_modules as mmdet_register_all

    mmdet_register_all(init_default_scope=False)
    import fcos_mm.apis  # noqa: F401
    import fcos_mm.datasets  # noqa: F401
    import fcos_mm.models  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created(SCOPE):
        DefaultScope.get_instance(SCOPE, scope_name=SCOPE)
    elif current.scope_name != SCOPE:
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      f'not "{SCOPE}"; register_all_modules() switches it.')
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')
        DefaultScope.get_instance(f'{SCOPE}-{stamp}', scope_name=SCOPE)
