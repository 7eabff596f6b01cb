"""Registry nodes of scope ``fcos_mm``.

How the scopes connect
----------------------
Each of our nodes is a child of **mmdet's** node of the same kind, which
hangs under mmengine's root::

    mmengine.MODELS            (scope 'mmengine')
      └── mmdet.MODELS         (scope 'mmdet')
            └── fcos_mm.MODELS (scope 'fcos_mm')

With ``default_scope = 'fcos_mm'`` a config builds from our node, and
mmengine's ``Registry.get`` resolves a name as follows:

* ``type='FCOSHead'`` / ``'CocoMetric'``: found in our node first, so
  **ours wins** where a name clashes with mmdet's.
* ``type='ResNet'`` / ``'FPN'`` / ``'CocoDataset'`` /
  ``'PackDetInputs'`` / ``'DetLocalVisualizer'``: not in our node, so the
  lookup walks up to the parent and gets **mmdet's** class (or mmengine's /
  mmcv's further up, e.g. ``'LoadImageFromFile'``).
* ``type='mmdet.FCOSHead'``: an explicit scope always reaches **mmdet's**
  class, which is how tests build the reference implementation beside ours.

(mmdet 3.3 has no node for inferencers; ours hangs under mmengine's.)

A parent's classes are only visible once its module has been imported, and
``Registry.get`` imports the ``locations`` of the node it is called on only.
So each node lists mmdet's modules of that kind before our own: a lookup
through ``fcos_mm`` imports both lazily. These lists are the one record of
what registers; :func:`fcos_mm.utils.register_all_modules` imports them all
up front. This module imports none of our packages, so it stays at the
bottom of the import graph.
"""
from mmdet import registry as mmdet
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import Registry

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
LOOPS = _node('loop', mmdet.LOOPS)
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
                                   mmdet.OPTIM_WRAPPER_CONSTRUCTORS)
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
