"""Speed benchmark: stage times add up and the staged forward computes what
the detector's own ``predict`` does."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.registry import init_default_scope

from fcos_mm.analysis import benchmark_detector, format_benchmark, run_stages
from fcos_mm.analysis.benchmark import STAGES
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
