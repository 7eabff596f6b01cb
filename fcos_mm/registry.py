"""Registry nodes of scope ``fcos_mm``.

How the scopes connect
----------------------
mmengine keeps one registry tree per kind (models, datasets, ...), rooted at
mmengine's own node. mmdet hangs its nodes (scope ``mmdet``) under that root,
and every node below is a child of **mmdet's** node of the same kind::

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
So each of our nodes lists mmdet's modules of that kind before our own: a
lookup through ``fcos_mm`` lazily imports both, and nothing needs an explicit
``register_all_modules()`` call (it exists for scripts that want to import
everything up front; see :mod:`fcos_mm.utils.setup_env`).
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOG_PROCESSORS as MMDET_LOG_PROCESSORS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import (
    OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
)
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import RUNNER_CONSTRUCTORS as MMDET_RUNNER_CONSTRUCTORS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
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
RUNNERS = _node('runner', MMDET_RUNNERS)
RUNNER_CONSTRUCTORS = _node('runner constructor', MMDET_RUNNER_CONSTRUCTORS)
LOOPS = _node('loop', MMDET_LOOPS)
HOOKS = _node('hook', MMDET_HOOKS, 'fcos_mm.engine')

# data
DATASETS = _node('dataset', MMDET_DATASETS, 'fcos_mm.datasets')
DATA_SAMPLERS = _node('data sampler', MMDET_DATA_SAMPLERS)
TRANSFORMS = _node('transform', MMDET_TRANSFORMS, 'fcos_mm.datasets')

# models and what they are built from
MODELS = _node('model', MMDET_MODELS, 'fcos_mm.models',
               'fcos_mm.deployment')
MODEL_WRAPPERS = _node('model_wrapper', MMDET_MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _node('weight initializer', MMDET_WEIGHT_INITIALIZERS)
TASK_UTILS = _node('task util', MMDET_TASK_UTILS, 'fcos_mm.models')

# optimisation
OPTIMIZERS = _node('optimizer', MMDET_OPTIMIZERS)
OPTIM_WRAPPERS = _node('optim_wrapper', MMDET_OPTIM_WRAPPERS,
                       'fcos_mm.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _node('optimizer wrapper constructor',
                                   MMDET_OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _node('parameter scheduler', MMDET_PARAM_SCHEDULERS)

# evaluation, visualisation, logging, inference
METRICS = _node('metric', MMDET_METRICS, 'fcos_mm.evaluation')
EVALUATOR = _node('evaluator', MMDET_EVALUATOR)
VISUALIZERS = _node('visualizer', MMDET_VISUALIZERS)
VISBACKENDS = _node('vis_backend', MMDET_VISBACKENDS)
LOG_PROCESSORS = _node('log_processor', MMDET_LOG_PROCESSORS)
# mmdet 3.3 has no inferencer node of its own: ours hangs under mmengine's.
INFERENCERS = _node('inferencer', MMENGINE_INFERENCERS)

__all__ = [
    'SCOPE', 'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'DATASETS',
    'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR',
    'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS', 'INFERENCERS'
]
