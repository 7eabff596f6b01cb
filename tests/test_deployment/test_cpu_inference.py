"""Fast CPU inference: the bf16 decision from CPU flags, exact BatchNorm
folding, and the bf16 + channels_last path (run here on tiny inputs for
correctness, whatever this CPU has: its speed needs bf16 matrix units)."""
import warnings
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.structures import DetDataSample

from fcos_mm.deployment import (
    bf16_support,
    cpu_flags,
    fold_batchnorm,
    inference_autocast,
    prepare_cpu_inference,
)
from fcos_mm.engine import CPUInferenceHook

AMX = {'fpu', 'avx2', 'avx512f', 'amx_tile', 'amx_bf16', 'amx_int8'}
ZEN4 = {'fpu', 'avx2', 'avx512f', 'avx512_bf16'}
AVX2 = {'fpu', 'sse4_2', 'avx', 'avx2', 'fma'}


@pytest.mark.parametrize('flags,expected', [(AMX, True), (ZEN4, True),
                                            (AVX2, False), (set(), False)])
def test_bf16_decision_from_flags(flags, expected):
    use, reason = bf16_support(flags)
    assert use is expected
    if expected:
        assert reason.startswith('bf16 autocast + channels_last')
    else:
        assert reason.startswith('fp32: the CPU has no bf16 matrix units')
        assert '\n' not in reason


def test_this_cpu_agrees_with_torch_and_cpuinfo():
    use, reason = bf16_support()
    expected = (torch.cpu._is_amx_tile_supported()
                or torch.cpu._is_avx512_bf16_supported()
                or bool({'amx_bf16', 'avx512_bf16'} & (cpu_flags() or set())))
    assert use is expected and reason


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nmodel name\t: X\n'
                    'flags\t\t: fpu avx2 amx_bf16\n')
    assert cpu_flags(str(info)) == {'fpu', 'avx2', 'amx_bf16'}
    info.write_text('processor\t: 0\n')
    assert cpu_flags(str(info)) is None
    assert cpu_flags(str(tmp_path / 'missing')) is None


def _inputs(size=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(1, 3, size, size, generator=generator)
    meta = dict(img_shape=(size, size), scale_factor=(1.0, 1.0))
    return images, [DetDataSample(metainfo=meta)]


def _head_outputs(model, images):
    with torch.no_grad(), inference_autocast(model):
        outs = model.bbox_head(model.extract_feat(images))
    return [t.float() for level in outs for t in level]


def test_folding_batchnorm_is_exact(tiny_detector):
    model = tiny_detector()
    images, _ = _inputs()
    before = _head_outputs(model, images)
    bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert fold_batchnorm(model) == bn == 20  # R18: stem, 16 in blocks, 3
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    for a, b in zip(before, _head_outputs(model, images)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_folding_conv_module_and_sequential_keeps_training_norms():
    torch.manual_seed(0)
    module = ConvModule(3, 4, 3, padding=1, norm_cfg=dict(type='BN'))
    seq = nn.Sequential(nn.Conv2d(4, 4, 1, bias=True), nn.BatchNorm2d(4))
    for norm in (module.bn, seq[1]):
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        norm.weight.data.uniform_(0.5, 2)
        norm.bias.data.uniform_(-1, 1)
    model = nn.Sequential(module, seq).eval()
    x = torch.randn(2, 3, 8, 8)
    expected = model(x)
    assert fold_batchnorm(model) == 2
    assert isinstance(module.bn, nn.Identity)
    assert isinstance(seq[1], nn.Identity)
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)

    training = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    assert fold_batchnorm(training.train()) == 0  # batch statistics


def test_no_bf16_units_stays_fp32_with_a_note(tiny_detector):
    model = tiny_detector()
    note = prepare_cpu_inference(model, amp=True, flags=AVX2)
    assert note.startswith('fp32: the CPU has no bf16 matrix units')
    assert 'folded 20 BatchNorm(s)' in note
    assert model.inference_autocast is None
    assert prepare_cpu_inference(model, amp=False).startswith('fp32 (')


def test_bf16_path_runs_convs_in_bf16_and_stays_close(tiny_detector):
    reference = tiny_detector()
    images, samples = _inputs(96, seed=1)
    with torch.no_grad():
        expected = reference.predict(images, samples)[0].pred_instances
    model = tiny_detector()
    note = prepare_cpu_inference(model, amp=True, flags=AMX)
    assert note.startswith('bf16 autocast + channels_last: the CPU has '
                           'bf16 matrix units (amx_bf16)')
    assert model.inference_autocast is torch.bfloat16
    conv = model.backbone.layer1[0].conv1
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    seen = []
    hook = conv.register_forward_hook(
        lambda m, i, o: seen.append((o.dtype, i[0].is_contiguous(
            memory_format=torch.channels_last))))
    _, samples = _inputs(96, seed=1)
    with torch.no_grad():
        got = model.predict(images, samples)[0].pred_instances
    hook.remove()
    assert seen == [(torch.bfloat16, True)]
    # post-processing in float32, results close to fp32 (bf16: ~3 digits)
    assert got.scores.dtype == got.bboxes.dtype == torch.float32
    assert abs(len(got) - len(expected)) <= max(2, len(expected) // 5)
    top = min(5, len(got), len(expected))
    assert top > 0
    torch.testing.assert_close(
        got.scores[:top], expected.scores[:top], atol=0.03, rtol=0)
    # outside predict the model is unchanged: no autocast, fp32 weights
    assert conv.weight.dtype == torch.float32
    assert not torch.is_autocast_enabled('cpu')


def test_hook_prepares_the_runner_model(tiny_detector):
    model = tiny_detector()
    hook = CPUInferenceHook(flags=AVX2)
    hook.before_test(SimpleNamespace(model=model))
    assert hook.note.startswith('fp32') and model.inference_autocast is None
    model = tiny_detector()
    hook = CPUInferenceHook(flags=AMX)
    hook.before_test(SimpleNamespace(model=model))
    assert model.inference_autocast is torch.bfloat16


def test_init_detector_amp_follows_this_cpu(deploy):
    from mmengine.config import Config

    from fcos_mm.apis import init_detector
    config = Config(dict(model=deploy.model_cfg()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model = init_detector(config, cfg_options=dict(inference_amp=True))
    use, reason = bf16_support()
    assert model.inference_note.startswith(reason)
    assert (model.inference_autocast is torch.bfloat16) is use
    assert any(reason in str(w.message) for w in caught) is not use
    plain = init_detector(config)
    assert getattr(plain, 'inference_autocast', None) is None
