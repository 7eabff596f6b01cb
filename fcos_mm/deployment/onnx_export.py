"""Export an FCOS detector to ONNX and check it against PyTorch.

The TorchScript exporter (``torch.onnx.export(..., dynamo=False)``,
deprecated but present in torch 2.13) is used, not the ``torch.export`` one:

* it writes :class:`~fcos_mm.deployment.nms.ONNXNonMaxSuppression` as the
  standard ``NonMaxSuppression`` node (the op's ``symbolic``) and decomposes
  ``GroupNorm`` into ``InstanceNormalization`` + ``Mul`` + ``Add`` (opset
  18's ``GroupNormalization`` changed meaning in opset 21);
* it targets opsets 11-17, what deployed FCOS models use (mmdeploy: 11);
  the dynamo exporter starts at 18;
* its ``dynamic_axes`` keep data-dependent sizes (``TopK``'s k, NMS output)
  symbolic; the dynamo exporter fails on this graph with
  ``GuardOnDataDependentSymNode`` (torch 2.13, onnxscript 0.7).
"""
import json
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from fcos_mm.utils import build_test_pipeline, get_test_pipeline_cfg

from .export_model import INPUT_NAMES, OUTPUT_NAMES, FCOSExportWrapper

#: Opsets the export supports (``NonMaxSuppression``/``TopK`` with a tensor
#: k need 10/11; GroupNorm stays InstanceNormalization-based up to 17).
OPSETS = tuple(range(11, 18))


def export_onnx(detector: nn.Module,
                out_file: str,
                shape: Tuple[int, int] = (800, 1344),
                batch_size: int = 1,
                dynamic: bool = False,
                opset: int = 11,
                test_cfg: Optional[dict] = None,
                metadata: Optional[Dict[str, str]] = None) -> str:
    """Write ``detector`` with its post-processing as one ONNX graph.

    Args:
        detector (nn.Module): An FCOS detector (put in eval mode here).
        out_file (str): The ``.onnx`` file to write.
        shape (tuple[int, int]): Input ``(H, W)`` to trace with; the input
            shape of a static model. Defaults to (800, 1344).
        batch_size (int): Batch size to trace with (of a static model).
            Defaults to 1.
        dynamic (bool): Dynamic batch, height and width. Defaults to False.
        opset (int): ONNX opset, one of :data:`OPSETS`. Defaults to 11.
        test_cfg (dict, optional): Post-processing settings instead of the
            head's ``test_cfg``. Defaults to None.
        metadata (dict[str, str], optional): Extra ``metadata_props`` of the
            model (the export adds ``classes`` when the detector has
            ``dataset_meta``, ``num_classes``, ``max_per_img`` and
            ``dynamic``).

    Returns:
        str: ``out_file``, checked with ``onnx.checker``.

    Raises:
        ValueError: An opset outside :data:`OPSETS`.
    """
    import onnx

    if opset not in OPSETS:
        raise ValueError(
            f'opset {opset} is not supported: choose one of {OPSETS[0]}-'
            f'{OPSETS[-1]} (GroupNorm is exported as InstanceNormalization; '
            "opset 18's GroupNormalization changed meaning in opset 21)")
    height, width = shape
    detector.eval()
    wrapper = FCOSExportWrapper(detector, test_cfg).eval()
    images = torch.randn(batch_size, 3, height, width)
    img_shapes = torch.tensor([[float(height), float(width)]] * batch_size)
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {name: {0: 'batch'} for name in INPUT_NAMES[1:] +
                        OUTPUT_NAMES}
        dynamic_axes['input'] = {0: 'batch', 2: 'height', 3: 'width'}
    with torch.no_grad(), warnings.catch_warnings():
        # the deprecation notice of the TorchScript exporter (see above)
        # and tracer notes on Python-side shape arithmetic
        warnings.simplefilter('ignore')
        torch.onnx.export(
            wrapper, (images, img_shapes),
            out_file,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            opset_version=opset,
            dynamic_axes=dynamic_axes,
            dynamo=False)
    model = onnx.load(out_file)
    props = dict(max_per_img=str(wrapper.max_per_img),
                 num_classes=str(detector.bbox_head.num_classes),
                 dynamic=str(bool(dynamic)), producer='fcos_mm')
    classes = getattr(detector, 'dataset_meta', {}).get('classes')
    if classes:
        props['classes'] = json.dumps(list(classes))
    props.update(metadata or {})
    onnx.helper.set_model_props(model, props)
    onnx.save(model, out_file)
    onnx.checker.check_model(out_file)
    return out_file


def pytorch_detections(detector: nn.Module, images: Tensor,
                       img_shapes: Sequence[Tuple[int, int]]) -> List:
    """The eval-mode detector's ``InstanceData`` per image that the ONNX
    graph reproduces: ``predict_by_feat`` with ``rescale=False`` (boxes in
    input pixels) on ``(N, 3, H, W)`` images."""
    head = detector.bbox_head
    with torch.no_grad():
        return head.predict_by_feat(
            *head(detector.extract_feat(images)),
            batch_img_metas=[
                dict(img_shape=tuple(shape)) for shape in img_shapes
            ],
            rescale=False)


def compare_detections(reference: List, dets: Tensor,
                       labels: Tensor) -> Dict[str, float]:
    """The largest differences, row by row (both sorted by decreasing
    score), between :func:`pytorch_detections` and exported ``dets``
    ``(N, K, 5)`` / ``labels`` ``(N, K)``: ``detections`` (PyTorch's count,
    all images), ``count_diff`` (images whose count differs),
    ``label_mismatch`` (rows with another label), ``max_box_diff``
    (pixels) and ``max_score_diff``."""
    dets = torch.as_tensor(dets).float()
    labels = torch.as_tensor(labels).long()
    result = dict(detections=0, count_diff=0, label_mismatch=0,
                  max_box_diff=0.0, max_score_diff=0.0)
    for img_index, ref in enumerate(reference):
        valid = labels[img_index] >= 0
        got_boxes = dets[img_index, valid, :4]
        got_scores = dets[img_index, valid, 4]
        got_labels = labels[img_index, valid]
        num = min(len(ref), len(got_labels))
        result['detections'] += len(ref)
        result['count_diff'] += int(len(ref) != len(got_labels))
        if num == 0:
            continue
        result['label_mismatch'] += int(
            (ref.labels[:num] != got_labels[:num]).sum())
        for key, expected, got in (('max_box_diff', ref.bboxes, got_boxes),
                                   ('max_score_diff', ref.scores, got_scores)):
            diff = float((expected[:num] - got[:num]).abs().max())
            result[key] = max(result[key], diff)
    return result


def default_export_shape(cfg) -> Tuple[int, int]:
    """``(H, W)`` that the config's test pipeline resizes into, rounded up
    to the data preprocessor's ``pad_size_divisor`` (800x1344 for the COCO
    configs' 1333x800 ``Resize``, and when there is no ``Resize`` with a
    ``scale``)."""
    try:
        pipeline = get_test_pipeline_cfg(cfg)
    except (AttributeError, KeyError):
        pipeline = []
    scale = next((transform['scale'] for transform in pipeline
                  if str(transform.get('type', '')).endswith('Resize')
                  and isinstance(transform.get('scale'), (list, tuple))),
                 None)
    if scale is None:
        return (800, 1344)
    divisor = int(cfg.model.get('data_preprocessor', {}).get(
        'pad_size_divisor', 1) or 1)
    width, height = (int(side) for side in scale)
    return (-(-height // divisor) * divisor, -(-width // divisor) * divisor)


def verification_inputs(detector: nn.Module,
                        shape: Tuple[int, int],
                        image: Optional[str] = None,
                        seed: int = 0) -> Tuple[Tensor, list]:
    """``(1, 3, H, W)`` input and ``[(h, w)]`` to check an export with:
    ``image`` through the ``detector``'s test pipeline and data
    preprocessor, or seeded random input of ``shape``."""
    if image is None:
        generator = torch.Generator().manual_seed(seed)
        return torch.randn((1, 3) + tuple(shape),
                           generator=generator), [tuple(shape)]
    from mmengine.dataset import pseudo_collate

    pipeline = build_test_pipeline(detector.cfg, from_array=False)
    data = pipeline(dict(img_path=image, img_id=0))
    with torch.no_grad():
        data = detector.data_preprocessor(pseudo_collate([data]), False)
    img_shape = data['data_samples'][0].metainfo['img_shape'][:2]
    return data['inputs'], [tuple(img_shape)]


def verify_onnx(detector: nn.Module, onnx_file: str, inputs: Tensor,
                img_shapes: Sequence[Tuple[int, int]]) -> Dict[str, float]:
    """:func:`compare_detections` of ``onnx_file`` in onnxruntime and
    ``detector`` in PyTorch on the same ``(N, 3, H, W)`` batch (padded to a
    static model's shape first, for both)."""
    from .onnxruntime_detector import ONNXRuntimeDetector
    runtime = ONNXRuntimeDetector(onnx_file)
    inputs = runtime._pad_to_static(inputs.float())
    dets, labels = runtime.run(inputs, img_shapes)
    reference = pytorch_detections(detector, inputs, img_shapes)
    return compare_detections(reference, dets, labels)
