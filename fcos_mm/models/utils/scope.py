"""Build sub-modules through our registries whatever the caller's scope."""
from contextlib import contextmanager
from typing import Iterator

from mmengine.registry import DefaultScope

from fcos_mm.registry import SCOPE


@contextmanager
def fcos_mm_scope() -> Iterator[None]:
    """Make ``fcos_mm`` the default scope inside the ``with`` block.

    mmengine builds from the registry of the current default scope, so under
    ``mmdet`` (or none) ``type='FCOSHead'`` would mean mmdet's head. Inside
    this block our modules get ours, mmdet's names (``ResNet``, ...) fall
    through, and ``'mmdet.X'`` still reaches mmdet's ``X``.
    """
    current = DefaultScope.get_current_instance()
    if current is not None and current.scope_name == SCOPE:
        yield
        return
    with DefaultScope.overwrite_default_scope(SCOPE):
        yield
