"""Registry nodes of scope ``fcos_mm``.

Each node is a child of **mmdet's** node of the same kind (for inferencers,
which mmdet 3.3 lacks, of mmengine's)::

    mmengine.MODELS            (scope 'mmengine')
      └── mmdet.MODELS         (scope 'mmdet')
            └── fcos_mm.MODELS (scope 'fcos_mm')

With ``default_scope = 'fcos_mm'``, mmengine's ``Registry.get`` finds
``type='FCOSHead'`` or ``'CocoMetric'`` in our node first (**ours wins** a
name clash), walks up to the parent for a name we lack (``'ResNet'``,
``'FPN'``, ``'CocoDataset'``, ``'PackDetInputs'`` get **mmdet's** class,
``'LoadImageFromFile'`` mmcv's), and an explicit ``type='mmdet.FCOSHead'``
always reaches mmdet's (how tests build the reference beside ours).

``Registry.get`` imports the ``locations`` of the node it is called on only,
so each node lists mmdet's modules of that kind before ours: a lookup imports
both lazily. These lists are the one record of what registers
(:func:`fcos_mm.utils.register_all_modules` imports them all up front). This
module imports none of our packages: it is the bottom of the import graph.
"""
from contextlib import contextmanager
from typing import Iterator

from mmdet import registry as mmdet
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import DefaultScope, Registry

SCOPE = 'fcos_mm'


def _node(name: str, parent: Registry, *own_locations: str) -> Registry:
    """A child of mmdet's ``parent`` that imports mmdet's modules and ours."""
    return Registry(
        name,
        parent=parent,
        scope=SCOPE,
        locations=list(parent._locations) + list(own_locations))


# runners, loops and hooks
RUNNERS = _node('runner', mmdet.RUNNERS)
RUNNER_CONSTRUCTORS = _node('runner constructor', mmdet.RUNNER_CONSTRUCTORS)
LOOPS = _node('loop', mmdet.LOOPS, 'fcos_mm.engine')
HOOKS = _node('hook', mmdet.HOOKS, 'fcos_mm.engine')

# data
DATASETS = _node('dataset', mmdet.DATASETS, 'fcos_mm.datasets')
DATA_SAMPLERS = _node('data sampler', mmdet.DATA_SAMPLERS)
TRANSFORMS = _node('transform', mmdet.TRANSFORMS, 'fcos_mm.datasets')

# models and what they are built from
MODELS = _node('model', mmdet.MODELS, 'fcos_mm.models', 'fcos_mm.deployment')
MODEL_WRAPPERS = _node('model_wrapper', mmdet.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _node('weight initializer', mmdet.WEIGHT_INITIALIZERS)
TASK_UTILS = _node('task util', mmdet.TASK_UTILS, 'fcos_mm.models')

# optimisation
OPTIMIZERS = _node('optimizer', mmdet.OPTIMIZERS)
OPTIM_WRAPPERS = _node('optim_wrapper', mmdet.OPTIM_WRAPPERS,
                       'fcos_mm.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _node('optimizer wrapper constructor',
                                   mmdet.OPTIM_WRAPPER_CONSTRUCTORS,
                                   'fcos_mm.engine')
PARAM_SCHEDULERS = _node('parameter scheduler', mmdet.PARAM_SCHEDULERS)

# evaluation, visualisation, logging, inference
METRICS = _node('metric', mmdet.METRICS, 'fcos_mm.evaluation')
EVALUATOR = _node('evaluator', mmdet.EVALUATOR)
VISUALIZERS = _node('visualizer', mmdet.VISUALIZERS)
VISBACKENDS = _node('vis_backend', mmdet.VISBACKENDS)
LOG_PROCESSORS = _node('log_processor', mmdet.LOG_PROCESSORS)
INFERENCERS = _node('inferencer', MMENGINE_INFERENCERS)

__all__ = [
    'SCOPE', 'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'DATASETS',
    'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR',
    'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS', 'INFERENCERS'
]


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
