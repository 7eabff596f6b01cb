"""The config's test pipeline, for inference and export."""
import copy
from typing import List

from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope

from fcos_mm.registry import SCOPE


def get_test_pipeline_cfg(config: Config) -> List[dict]:
    """The test dataset's pipeline, looking through dataset wrappers."""
    dataset_cfg = config.test_dataloader.dataset
    while 'pipeline' not in dataset_cfg:
        if 'dataset' in dataset_cfg:
            dataset_cfg = dataset_cfg.dataset
        elif 'datasets' in dataset_cfg:
            dataset_cfg = dataset_cfg.datasets[0]
        else:
            raise KeyError('The config\'s test_dataloader.dataset has no '
                           '`pipeline`.')
    return copy.deepcopy(list(dataset_cfg.pipeline))


def build_test_pipeline(config: Config, from_array: bool) -> Compose:
    """Compose the config's test pipeline for file names or for arrays.

    Args:
        config (Config): The detector's config (``model.cfg``).
        from_array (bool): Whether images come as numpy arrays, in which
            case the loading step becomes ``LoadImageFromNDArray``.
            Annotation loading steps are left out.

    Returns:
        Compose: The pipeline, mapping ``dict(img_path=...)`` or
        ``dict(img=...)`` to ``dict(inputs=..., data_samples=...)``.
    """
    # Evaluation pipelines may load annotations; a bare image has none.
    pipeline = [
        transform for transform in get_test_pipeline_cfg(config)
        if not str(transform.get('type', '')).endswith('LoadAnnotations')
    ]
    if from_array:
        pipeline[0] = dict(pipeline[0], type='mmdet.LoadImageFromNDArray')
    # Transforms resolve their types through the default scope.
    init_default_scope(config.get('default_scope', SCOPE) or SCOPE)
    return Compose(pipeline)
