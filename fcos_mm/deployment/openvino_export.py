"""Export an FCOS detector to OpenVINO IR, optionally quantised to int8.

The IR is converted from our ONNX graph (:func:`.onnx_export.export_onnx`,
post-processing inside), so both backends run the same graph; the ONNX
``metadata_props`` (``classes``, ``num_classes``, ``max_per_img``,
``dynamic``) go into the IR's ``rt_info`` section ``fcos_mm``.

int8 is NNCF's post-training quantisation (``nncf.quantize``, min-max
statistics of the activations, per-channel weights) of the IR, calibrated on
images of the config's val (else train) set through the test pipeline and
the data preprocessor (:func:`calibration_inputs`).

``model.xml`` and ``model.bin`` are written atomically (``.bin`` first): a
crash leaves the previous pair or the new one.
"""
import copy
import os
import os.path as osp
import tempfile
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from fcos_mm.utils.atomic_io import atomic_write

from .onnx_export import export_onnx
from .openvino_detector import RT_INFO_KEY


def save_openvino(model, xml_file: str) -> str:
    """Write the OpenVINO ``model`` to ``xml_file`` and the ``.bin`` beside
    it, each atomically, weights kept in f32."""
    import openvino as ov

    folder = osp.dirname(osp.abspath(xml_file))
    os.makedirs(folder, exist_ok=True)
    stem = osp.splitext(xml_file)[0]
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        tmp_xml = osp.join(tmp, 'model.xml')
        ov.save_model(model, tmp_xml, compress_to_fp16=False)
        for ext in ('.bin', '.xml'):  # the .xml names the .bin: last
            with open(osp.join(tmp, 'model' + ext), 'rb') as f:
                atomic_write(f.read(), stem + ext)
    return xml_file


def onnx_to_openvino(onnx_file: str, extra: Optional[dict] = None):
    """The OpenVINO model of ``onnx_file`` with its metadata (and
    ``extra``) in ``rt_info``."""
    import onnx
    import openvino as ov

    props = {prop.key: prop.value
             for prop in onnx.load(onnx_file, load_external_data=False)
             .metadata_props}
    props.update(extra or {})
    model = ov.convert_model(onnx_file)
    for key, value in props.items():
        model.set_rt_info(str(value), [RT_INFO_KEY, key])
    return model


def export_openvino(detector: nn.Module,
                    xml_file: str,
                    shape: Tuple[int, int] = (800, 1344),
                    batch_size: int = 1,
                    dynamic: bool = False,
                    opset: int = 11,
                    test_cfg: Optional[dict] = None,
                    calibration: Optional[List[dict]] = None) -> str:
    """Write ``detector`` with its post-processing as an OpenVINO IR.

    Args:
        detector (nn.Module): An FCOS detector (put in eval mode here).
        xml_file (str): The ``model.xml`` to write (``.bin`` beside it).
        shape, batch_size, dynamic, opset, test_cfg: As
            :func:`~fcos_mm.deployment.export_onnx`.
        calibration (list[dict], optional): Inputs (``input``,
            ``img_shapes`` arrays) of :func:`calibration_inputs`: quantise
            to int8 with NNCF on them. Defaults to None (float model).

    Returns:
        str: ``xml_file``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = export_onnx(
            detector,
            osp.join(tmp, 'model.onnx'),
            shape=shape,
            batch_size=batch_size,
            dynamic=dynamic,
            opset=opset,
            test_cfg=test_cfg)
        model = onnx_to_openvino(
            onnx_file, dict(int8=str(calibration is not None)))
    if calibration is not None:
        model = quantize_int8(model, calibration)
    return save_openvino(model, xml_file)


def quantize_int8(model, calibration: List[dict]):
    """NNCF post-training int8 quantisation of the OpenVINO ``model`` on
    the ``calibration`` inputs (all of them)."""
    import nncf

    if not calibration:
        raise ValueError('int8 quantisation needs at least one calibration '
                         'image (--calib-images)')
    return nncf.quantize(
        model,
        nncf.Dataset(calibration),
        subset_size=len(calibration),
        preset=nncf.QuantizationPreset.PERFORMANCE)


def _calibration_dataset_cfg(cfg) -> Tuple[str, dict]:
    """The val (else train) dataset config of ``cfg`` with the test
    pipeline, and the name of the loader it came from."""
    from fcos_mm.utils import get_test_pipeline_cfg

    for key in ('val_dataloader', 'train_dataloader'):
        loader = cfg.get(key)
        if loader is None or 'dataset' not in loader:
            continue
        dataset_cfg = copy.deepcopy(loader.dataset)
        # ConcatDataset / RepeatDataset wrap the real one
        while 'dataset' in dataset_cfg and 'pipeline' not in dataset_cfg:
            dataset_cfg = dataset_cfg['dataset']
        dataset_cfg['pipeline'] = get_test_pipeline_cfg(cfg)
        dataset_cfg['test_mode'] = True
        return key, dataset_cfg
    raise KeyError('int8 calibration reads images of the val_dataloader (or '
                   'train_dataloader) dataset, and the config has neither; '
                   'add one or pass --cfg-options val_dataloader.dataset...')


def calibration_inputs(detector: nn.Module,
                       num_images: int,
                       static_hw: Optional[Tuple[int, int]] = None
                       ) -> List[dict]:
    """``num_images`` (at most the dataset's length) inputs of the
    ``detector.cfg``'s val (else train) images, through the test pipeline
    and the detector's data preprocessor, one image each, zero-padded to
    ``static_hw`` for a static model."""
    from mmengine.dataset import pseudo_collate

    from fcos_mm.registry import DATASETS

    key, dataset_cfg = _calibration_dataset_cfg(detector.cfg)
    dataset = DATASETS.build(dataset_cfg)
    if len(dataset) == 0:
        raise ValueError(f'int8 calibration: the {key} dataset is empty')
    inputs = []
    for index in range(min(num_images, len(dataset))):
        with torch.no_grad():
            data = detector.data_preprocessor(
                pseudo_collate([dataset[index]]), False)
        images = data['inputs'].float()
        height, width = data['data_samples'][0].metainfo['img_shape'][:2]
        if static_hw is not None:
            if images.shape[-2] > static_hw[0] or (images.shape[-1] >
                                                   static_hw[1]):
                raise ValueError(
                    f'int8 calibration: image {index} of the {key} dataset '
                    f'is {tuple(images.shape[-2:])} after the test pipeline, '
                    f'larger than the static export {static_hw}; pass a '
                    'larger --shape or --dynamic')
            images = torch.nn.functional.pad(
                images, (0, static_hw[1] - images.shape[-1], 0,
                         static_hw[0] - images.shape[-2]))
        inputs.append(
            dict(
                input=np.ascontiguousarray(images.numpy()),
                img_shapes=np.array([[height, width]], dtype=np.float32)))
    return inputs

