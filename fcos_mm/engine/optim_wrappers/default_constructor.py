"""mmengine's ``DefaultOptimWrapperConstructor`` with one log line for the
frozen parameters."""
import logging
import re
from typing import List

import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.optim import (
    DefaultOptimWrapperConstructor as MMEngineDefaultOptimWrapperConstructor,
)
from mmengine.optim import OptimWrapper

from fcos_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS

_SKIPPED = re.compile(r'^(?P<name>.+) is skipped since its '
                      r'requires_grad=False$')


class _FrozenParameters(logging.Filter):
    """Drops mmengine's per-parameter "is skipped since its
    requires_grad=False" warnings, keeping the names."""

    def __init__(self) -> None:
        super().__init__()
        self.names: List[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        match = _SKIPPED.match(record.getMessage())
        if match:
            self.names.append(match.group('name'))
        return match is None


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DefaultOptimWrapperConstructor(MMEngineDefaultOptimWrapperConstructor):
    """mmengine's constructor, but the parameters it leaves out because they
    are frozen (``requires_grad=False``: ``frozen_stages``, a norm with
    ``requires_grad=False``) are said in one INFO line with a count and the
    first names, instead of one warning each (117 for the R50-caffe
    configs, whose ``paramwise_cfg`` makes mmengine walk every parameter).

    Registered under mmengine's name in scope ``fcos_mm``, so every config
    gets it without naming a ``constructor``.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        logger = MMLogger.get_current_instance()
        frozen = _FrozenParameters()
        logger.addFilter(frozen)
        try:
            wrapper = super().__call__(model)
        finally:
            logger.removeFilter(frozen)
        if frozen.names:
            shown = ', '.join(frozen.names[:3])
            print_log(
                f'{len(frozen.names)} frozen parameters (requires_grad='
                f'False, set by the config: frozen_stages, norm_cfg '
                f'requires_grad=False) are not optimised ({shown}'
                f'{", ..." if len(frozen.names) > 3 else ""}).',
                logger='current')
        return wrapper
