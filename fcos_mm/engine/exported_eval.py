"""The bbox mAP of exported models on a config's val set, with the test
runner: :func:`int8_map_report` evaluates the float OpenVINO IR and the
int8 one (``tools/deployment/export.py --int8``) and warns when int8 loses
more than ``max_drop`` AP points (default 1)."""
import copy
import os.path as osp
import tempfile
from typing import Dict, Tuple

import torch.nn as nn
from mmengine.config import Config

from fcos_mm.deployment.openvino_export import export_openvino

from .runner_setup import build_runner, setup_test_cfg

#: Default of ``--max-map-drop``: int8 AP points lost before a warning.
MAX_MAP_DROP = 1.0


def evaluate_map(cfg: Config, model_file: str, work_dir: str,
                 precision: str = 'auto') -> float:
    """bbox mAP of an exported ``model_file`` on ``cfg``'s val set (its
    ``val_dataloader`` / ``val_evaluator``; else the test ones)."""
    cfg = copy.deepcopy(cfg)
    if cfg.get('val_dataloader') is not None and cfg.get(
            'val_evaluator') is not None:
        cfg.test_dataloader = cfg.val_dataloader
        cfg.test_evaluator = cfg.val_evaluator
    cfg.test_cfg = cfg.get('test_cfg') or dict(type='TestLoop')
    for part in ('train', 'val'):  # a test-only runner
        for suffix in ('_dataloader', '_cfg', '_evaluator'):
            cfg[part + suffix] = None
    cfg.pop('optim_wrapper', None)
    cfg.pop('param_scheduler', None)
    setup_test_cfg(cfg, model_file, work_dir=work_dir, precision=precision)
    cfg.visualizer = dict(type='DetLocalVisualizer', vis_backends=[])
    metrics = build_runner(cfg, 'none').test()
    key = next((key for key in metrics if key.endswith('bbox_mAP')), None)
    if key is None:
        raise KeyError(f'The evaluator reported no bbox mAP: {metrics}')
    return float(metrics[key])


def int8_map_report(detector: nn.Module,
                    int8_file: str,
                    shape: Tuple[int, int],
                    dynamic: bool = False,
                    precision: str = 'auto',
                    max_drop: float = MAX_MAP_DROP) -> Dict:
    """mAP of the float OpenVINO model (exported into a temporary folder)
    and of ``int8_file`` on the val set, and a warning line when the int8
    model loses more than ``max_drop`` AP points.

    Returns:
        dict: ``fp_map``, ``int8_map`` (0-1), ``drop`` (AP points) and
        ``warning`` (None when within ``max_drop``).
    """
    with tempfile.TemporaryDirectory() as tmp:
        fp_file = export_openvino(
            detector, osp.join(tmp, 'model.xml'), shape=shape,
            dynamic=dynamic)
        fp_map = evaluate_map(detector.cfg, fp_file,
                              osp.join(tmp, 'work_fp'), precision)
        int8_map = evaluate_map(detector.cfg, int8_file,
                                osp.join(tmp, 'work_int8'), precision)
    drop = 100 * (fp_map - int8_map)
    warning = None
    if drop > max_drop:
        warning = (f'WARNING: int8 loses {drop:.1f} AP points (fp '
                   f'{fp_map:.3f} -> int8 {int8_map:.3f}), more than '
                   f'--max-map-drop {max_drop}: calibrate on more images '
                   '(--calib-images) or deploy the float model')
    return dict(fp_map=fp_map, int8_map=int8_map, drop=drop, warning=warning)
