"""The compiled PyTorch path: torch.compile (inductor, freezing) of
backbone, neck and head gives the eager detections; a part that cannot
compile runs eager with a warning."""
import warnings

import pytest
import torch

from fcos_mm.deployment import (
    compile_for_cpu,
    cpu_inference,
    pytorch_detections,
)


def _detections(detector, size=64):
    images = torch.randn(1, 3, size, size,
                         generator=torch.Generator().manual_seed(0))
    return pytorch_detections(detector, images, [(size, size)])[0]


def test_compiled_detector_gives_the_eager_detections(deploy):
    detector = deploy.build()
    expected = _detections(detector)
    note = compile_for_cpu(detector)
    assert note.startswith('torch.compile (inductor, freezing) of backbone, '
                           'neck, bbox_head')
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)  # no fallback
        warnings.filterwarnings('ignore', message='.*meshgrid.*')
        got = _detections(detector)
    assert detector.backbone.forward.error is None
    deploy.assert_same(expected, torch.cat(
        [got.bboxes, got.scores[:, None]], 1), got.labels, 64)


def test_a_part_that_cannot_compile_runs_eager(deploy, monkeypatch):
    detector = deploy.build()
    expected = _detections(detector)

    def broken(forward, **kwargs):
        def fail(*args, **kwargs):
            raise RuntimeError('no C++ compiler\nmore lines')
        return fail

    monkeypatch.setattr(cpu_inference.torch, 'compile', broken)
    compile_for_cpu(detector)
    with pytest.warns(UserWarning, match='torch.compile of the backbone '
                      'failed, running it eager instead: RuntimeError: no '
                      'C\\+\\+ compiler$'):
        got = _detections(detector)
    assert isinstance(detector.neck.forward.error, RuntimeError)
    torch.testing.assert_close(got.bboxes, expected.bboxes)
    torch.testing.assert_close(got.scores, expected.scores)
