"""Build sub-modules through our registries whatever the caller's scope."""
from contextlib import contextmanager
from typing import Iterator

from mmengine.registry import DefaultScope

from fcos_mm.registry import SCOPE


@contextmanager
def fcos_mm_scope() -> Iterator[None]:
    """Make ``fcos_mm`` the default scope inside the ``with`` block.

    mmengine builds a config from the registry of the *current default
    scope*. Under another scope (``mmdet``, or none set) an unscoped
    ``type='FCOSPointAssigner'`` is not found and ``type='FCOSHead'`` means
    mmdet's head. Our modules build their parts inside this block, so they
    get ours while mmdet's names (``ResNet``, ``FPN``, ...) still fall
    through, and an explicit ``'mmdet.X'`` still reaches mmdet's ``X``.
    """
    current = DefaultScope.get_current_instance()
    if current is not None and current.scope_name == SCOPE:
        yield
        return
    with DefaultScope.overwrite_default_scope(SCOPE):
        yield
