"""Speed benchmark: stage times add up and the staged forward computes what
the detector's own ``predict`` does."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.registry import init_default_scope

from fcos_mm.benchmarks.benchmark import (
    STAGES,
    benchmark_detector,
    format_benchmark,
    run_stages,
)
from fcos_mm.registry import MODELS


@pytest.fixture
def detector(model_cfg):
    init_default_scope('fcos_mm')
    cfg = model_cfg()
    cfg['test_cfg']['score_thr'] = 0.0  # keep boxes to compare
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def test_stages_reproduce_predict(detector):
    images = torch.randn(1, 3, 64, 160) * 50
    meta = dict(
        img_shape=(64, 160),
        ori_shape=(64, 160),
        pad_shape=(64, 160),
        batch_input_shape=(64, 160),
        scale_factor=(1.0, 1.0))
    ticks = iter(range(100))
    times, results = run_stages(detector, images, [meta],
                                lambda: float(next(ticks)))
    assert times == {stage: 1.0 for stage in STAGES}
    with torch.no_grad():
        expected = detector.predict(
            images, [DetDataSample(metainfo=meta)], rescale=False)
    ours, theirs = results[0], expected[0].pred_instances
    assert len(ours) == len(theirs) > 0
    torch.testing.assert_close(ours.bboxes, theirs.bboxes)
    torch.testing.assert_close(ours.scores, theirs.scores)


def test_benchmark_reports_consistent_numbers(detector):
    result = benchmark_detector(detector, (64, 160), num_images=2,
                                num_warmup=1)
    ms = result['ms']
    assert set(ms) == set(STAGES) | {'total'}
    assert all(ms[s] > 0 for s in STAGES)
    assert ms['total'] == pytest.approx(sum(ms[s] for s in STAGES))
    assert result['fps'] == pytest.approx(1000 / ms['total'])
    assert result['device'] == 'cpu' and result['shape'] == (64, 160)
    assert result['num_threads'] == torch.get_num_threads()
    text = format_benchmark(result)
    assert (f'({torch.get_num_threads()} threads): {result["fps"]:.2f} '
            'images/s') in text
    assert text.count('\n') == len(STAGES) + 2
    with pytest.raises(ValueError, match='num_images'):
        benchmark_detector(detector, (64, 160), num_images=0)


def test_mmdet_config_and_weights_give_the_same_detections(
        detector, model_cfg):
    from fcos_mm.benchmarks import build_mmdet_fcos, mmdet_model_cfg
    from fcos_mm.models.dense_heads.fcos_head import FCOSHead

    cfg = model_cfg()
    cfg['train_cfg'] = dict(
        assigner=dict(
            type='FCOSPointAssigner',
            regress_ranges=((-1, 8), (8, 1e8)),
            center_sampling=True,
            center_sample_radius=1.5))
    cfg['backbone']['init_cfg'] = dict(type='Pretrained', checkpoint='x')
    theirs = mmdet_model_cfg(cfg)
    assert theirs['type'] == 'mmdet.FCOS' and 'train_cfg' not in theirs
    assert theirs['backbone']['type'] == 'mmdet.ResNet'
    assert 'init_cfg' not in theirs['backbone']
    head = theirs['bbox_head']
    assert head['type'] == 'mmdet.FCOSHead'
    assert head['regress_ranges'] == ((-1, 8), (8, 1e8))
    assert head['center_sampling'] is True
    with pytest.raises(ValueError, match='always has center-ness'):
        mmdet_model_cfg(
            dict(cfg, bbox_head=dict(cfg['bbox_head'], use_centerness=False)))

    cfg['test_cfg']['score_thr'] = 0.0
    mmdet_model = build_mmdet_fcos(cfg, detector.state_dict())
    assert not isinstance(mmdet_model.bbox_head, FCOSHead)
    images = torch.randn(1, 3, 64, 160) * 50
    meta = dict(img_shape=(64, 160), scale_factor=(1.0, 1.0))
    _, ours = run_stages(detector, images, [meta], lambda: 0.0)
    _, expected = run_stages(mmdet_model, images, [meta], lambda: 0.0)
    assert len(ours[0]) == len(expected[0]) > 0
    torch.testing.assert_close(ours[0].bboxes, expected[0].bboxes)
    torch.testing.assert_close(ours[0].scores, expected[0].scores)


def test_stages_run_under_the_prepared_autocast(detector):
    seen = []
    conv = detector.backbone.conv1
    hook = conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    detector.inference_autocast = torch.bfloat16
    try:
        _, results = run_stages(detector, torch.randn(1, 3, 64, 160),
                                [dict(img_shape=(64, 160))], lambda: 0.0)
    finally:
        hook.remove()
        detector.inference_autocast = None
    assert seen == [torch.bfloat16]
    assert results[0].bboxes.dtype == torch.float32


def test_onnxruntime_benchmark_and_comparison_table(detector, tmp_path):
    from fcos_mm.benchmarks.benchmark import (
        benchmark_onnxruntime,
        format_comparison,
    )
    from fcos_mm.deployment import create_session, export_onnx

    path = export_onnx(detector, str(tmp_path / 'm.onnx'), shape=(64, 160))
    result = benchmark_onnxruntime(
        create_session(path, 1), (64, 160), num_images=2, num_warmup=1)
    assert result['ms']['total'] > 0 and result['shape'] == (64, 160)
    assert result['fps'] == pytest.approx(1000 / result['ms']['total'])
    with pytest.raises(ValueError, match='num_images'):
        benchmark_onnxruntime(None, (64, 64), num_images=0)

    table = format_comparison({
        'mmdet fp32': dict(ms=dict(total=200.0)),
        'pytorch fp32': dict(ms=dict(total=100.0)),
        'onnxruntime': dict(ms=dict(total=50.0)),
    })
    lines = table.splitlines()
    assert lines[0].split() == [
        'variant', 'ms', '/', 'image', 'images/s', '/', 'mmdet', 'fp32', '/',
        'pytorch', 'fp32'
    ]
    assert lines[3].split() == ['onnxruntime', '50.0', '20.00', '0.250',
                                '0.500']
    assert lines[1].split()[-2:] == ['1.000', '2.000']


def test_rounds_merge_weighted_by_images():
    from fcos_mm.benchmarks.benchmark import merge_rounds
    merged = merge_rounds([
        dict(ms=dict(total=100.0, head=10.0), num_images=1, shape=(8, 8)),
        dict(ms=dict(total=40.0, head=4.0), num_images=2, shape=(8, 8))
    ])
    assert merged['ms'] == dict(total=60.0, head=6.0)
    assert merged['num_images'] == 3 and merged['shape'] == (8, 8)
    assert merged['fps'] == pytest.approx(1000 / 60)
    with pytest.raises(ValueError, match='at least one'):
        merge_rounds([])
