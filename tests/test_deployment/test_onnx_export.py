"""ONNX export: onnxruntime reproduces the PyTorch detections (labels and
order of untied scores, boxes within 1e-3 of the image size, scores within
1e-4) for static and dynamic shapes, batches of 1 and 2 with images of
different sizes, both regression variants, with and without center-ness,
and an image without detections."""
import onnx
import pytest
import torch

from fcos_mm.deployment import (
    FCOSExportWrapper,
    ONNXRuntimeDetector,
    compare_detections,
    create_session,
    export_onnx,
    pytorch_detections,
)
from fcos_mm.deployment.onnx_export import (
    default_export_shape,
    verification_inputs,
    verify_onnx,
)


def _run(session, images, img_shapes):
    dets, labels = session.run(
        None, {
            'input': images.numpy(),
            'img_shapes': torch.tensor(img_shapes,
                                       dtype=torch.float32).numpy()
        })
    return torch.from_numpy(dets), torch.from_numpy(labels)


def _check_batch(deploy, model, session, images, img_shapes):
    """onnxruntime against PyTorch and against the wrapper run eagerly;
    returns the number of detections."""
    reference = pytorch_detections(model, images, img_shapes)
    dets, labels = _run(session, images, img_shapes)
    with torch.no_grad():
        eager_dets, eager_labels = FCOSExportWrapper(model)(
            images, torch.tensor(img_shapes, dtype=torch.float32))
    size = max(images.shape[-2:])
    for i, ref in enumerate(reference):
        deploy.assert_same(ref, dets[i], labels[i], size)
        deploy.assert_same(ref, eager_dets[i], eager_labels[i], size)
        h, w = img_shapes[i]
        # clipped to the image's own shape, not the padded batch's
        assert bool((dets[i, :, [0, 2]] <= w).all())
        assert bool((dets[i, :, [1, 3]] <= h).all())
    return sum(len(ref) for ref in reference)


def _op_types(path):
    return {node.op_type for node in onnx.load(path).graph.node}


@pytest.fixture(scope='module')
def dynamic_export(tmp_path_factory, tiny_detector):
    """norm_on_bbox + center-ness on regression (the demo's variant),
    opset 11, dynamic batch / height / width, traced at 64x96."""
    model = tiny_detector(norm_on_bbox=True, centerness_on_reg=True)
    path = str(tmp_path_factory.mktemp('onnx') / 'dynamic.onnx')
    export_onnx(model, path, shape=(64, 96), dynamic=True, opset=11)
    return model, path


def test_dynamic_export_matches_pytorch_on_sizes_and_batches(
        dynamic_export, deploy):
    model, path = dynamic_export
    session = create_session(path, num_threads=1)
    generator = torch.Generator().manual_seed(1)
    total = 0
    for batch, height, width, img_shapes in (
        (1, 64, 64, [(64, 64)]),
        (1, 96, 128, [(96, 128)]),
        (1, 128, 96, [(128, 90)]),
        (2, 96, 128, [(96, 128), (70, 100)]),
        (2, 64, 96, [(64, 96), (64, 96)]),
    ):
        images = torch.randn(batch, 3, height, width, generator=generator)
        total += _check_batch(deploy, model, session, images, img_shapes)
    assert total > 50  # enough detections for the comparison to mean much

    graph = onnx.load(path)
    assert graph.opset_import[0].version == 11
    ops = _op_types(path)
    assert {'NonMaxSuppression', 'TopK', 'InstanceNormalization'} <= ops
    assert 'GroupNormalization' not in ops
    dims = [d.dim_param or d.dim_value
            for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ['batch', 3, 'height', 'width']
    meta = {p.key: p.value for p in graph.metadata_props}
    assert meta['max_per_img'] == '15' and meta['dynamic'] == 'True'
    assert ONNXRuntimeDetector(path).classes == list(deploy.classes)


def test_static_export_exp_regression_opset17(tmp_path, tiny_detector,
                                              deploy):
    model = tiny_detector(
        seed=1, norm_on_bbox=False, centerness_on_reg=False, max_per_img=30)
    path = str(tmp_path / 'static.onnx')
    export_onnx(model, path, shape=(96, 128), batch_size=2, opset=17)
    graph = onnx.load(path)
    assert graph.opset_import[0].version == 17
    ops = _op_types(path)
    assert {'NonMaxSuppression', 'InstanceNormalization', 'Exp'} <= ops
    assert 'GroupNormalization' not in ops
    dims = [d.dim_value
            for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3, 96, 128]
    session = create_session(path, num_threads=1)
    images = torch.randn(2, 3, 96, 128,
                         generator=torch.Generator().manual_seed(2))
    shapes = [(96, 128), (80, 90)]
    assert _check_batch(deploy, model, session, images, shapes) > 20


def test_without_centerness_and_without_detections(tmp_path, tiny_detector,
                                                   deploy):
    model = tiny_detector(seed=2, use_centerness=False)
    path = str(tmp_path / 'plain.onnx')
    export_onnx(model, path, shape=(64, 64))
    session = create_session(path, num_threads=1)
    images = torch.randn(1, 3, 64, 64,
                         generator=torch.Generator().manual_seed(3))
    assert _check_batch(deploy, model, session, images, [(64, 64)]) > 0

    with torch.no_grad():  # every class score far below score_thr
        model.bbox_head.conv_cls.bias.fill_(-10.0)
    export_onnx(model, path, shape=(64, 64))
    assert len(pytorch_detections(model, images, [(64, 64)])[0]) == 0
    dets, labels = _run(create_session(path), images, [(64, 64)])
    assert dets.shape == (1, 15, 5) and labels.shape == (1, 15)
    assert bool((dets == 0).all()) and bool((labels == -1).all())


def test_runtime_detector_pads_static_inputs_and_splits_batches(
        tmp_path, tiny_detector, deploy):
    model = tiny_detector(seed=3)
    path = str(tmp_path / 'static.onnx')
    export_onnx(model, path, shape=(96, 128))
    runtime = ONNXRuntimeDetector(path, num_threads=1)
    assert runtime.static_batch == 1 and runtime.static_hw == (96, 128)
    images = torch.randn(3, 3, 64, 96,
                         generator=torch.Generator().manual_seed(4))
    shapes = [(64, 96), (60, 80), (64, 70)]
    dets, labels = runtime.run(images, shapes)
    assert dets.shape == (3, 15, 5)
    # the same as PyTorch on the input padded with zeros to 96x128
    padded = torch.nn.functional.pad(images, (0, 32, 0, 32))
    for i, ref in enumerate(pytorch_detections(model, padded, shapes)):
        deploy.assert_same(ref, dets[i], labels[i], 128)
    with pytest.raises(ValueError, match='exported for 96x128 inputs'):
        runtime.run(torch.zeros(1, 3, 128, 128), [(128, 128)])
    with pytest.raises(ValueError, match='only predicts'):
        runtime(images, mode='loss')


def test_verify_reports_no_difference(tmp_path, tiny_detector):
    model = tiny_detector(seed=4)
    path = str(tmp_path / 'model.onnx')
    export_onnx(model, path, shape=(64, 96), dynamic=True)
    inputs, img_shapes = verification_inputs(model, (64, 96))
    assert inputs.shape == (1, 3, 64, 96) and img_shapes == [(64, 96)]
    diff = verify_onnx(model, path, inputs, img_shapes)
    assert diff['detections'] > 0
    assert diff['count_diff'] == 0
    assert diff['max_box_diff'] < 1e-3 * 96
    assert diff['max_score_diff'] < 1e-4
    # and the comparison does see a difference
    reference = pytorch_detections(model, inputs, img_shapes)
    dets = torch.zeros(1, 15, 5)
    labels = torch.full((1, 15), -1)
    dets[0, 0] = torch.tensor([0., 0., 10., 10., 0.5])
    labels[0, 0] = (reference[0].labels[0] + 1) % 3
    other = compare_detections(reference, dets, labels)
    assert other['count_diff'] == 1 and other['label_mismatch'] == 1


def test_export_refuses_unsupported_settings(tmp_path, tiny_detector):
    model = tiny_detector()
    with pytest.raises(ValueError, match='opset 18 is not supported'):
        export_onnx(model, str(tmp_path / 'a.onnx'), opset=18)
    soft = dict(model.bbox_head.test_cfg, nms=dict(type='soft_nms'))
    with pytest.raises(ValueError, match="Only test_cfg.nms.type='nms'"):
        FCOSExportWrapper(model, soft)
    with pytest.raises(ValueError, match='max_per_img'):
        FCOSExportWrapper(model, dict(nms=dict(type='nms')))


def test_default_export_shape_follows_the_test_pipeline():
    from mmengine.config import Config
    cfg = Config(
        dict(
            model=dict(data_preprocessor=dict(pad_size_divisor=32)),
            test_dataloader=dict(
                dataset=dict(pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='Resize', scale=(1333, 800), keep_ratio=True)
                ]))))
    assert default_export_shape(cfg) == (800, 1344)
    cfg.test_dataloader.dataset.pipeline[1]['scale'] = (256, 200)
    assert default_export_shape(cfg) == (224, 256)
    cfg.test_dataloader.dataset.pipeline.pop(1)
    assert default_export_shape(cfg) == (800, 1344)


def test_class_agnostic_nms_and_all_candidates(tmp_path, tiny_detector,
                                               deploy):
    model = tiny_detector(seed=5, nms_pre=-1)  # nms_pre <= 0: keep all
    model.bbox_head.test_cfg['nms'] = dict(
        type='nms', iou_threshold=0.3, class_agnostic=True)
    path = str(tmp_path / 'agnostic.onnx')
    export_onnx(model, path, shape=(64, 96), dynamic=True)
    session = create_session(path, num_threads=1)
    images = torch.randn(2, 3, 64, 96,
                         generator=torch.Generator().manual_seed(6))
    shapes = [(64, 96), (50, 60)]
    assert _check_batch(deploy, model, session, images, shapes) > 5
    # class-agnostic: no two kept boxes overlap by more than the threshold
    from mmdet.structures.bbox import bbox_overlaps
    dets, labels = _run(session, images, shapes)
    boxes = dets[0, labels[0] >= 0, :4]
    overlaps = bbox_overlaps(boxes, boxes).fill_diagonal_(0)
    assert float(overlaps.max()) <= 0.3 + 1e-6
