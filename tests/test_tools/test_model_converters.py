"""tools/model_converters/: converted weights load strictly into our FCOS and
compute what the source model computes.

* mmdet: the source is mmdet's own FCOS (``mmdet.`` scoped types) built
  beside ours with the same small settings.
* Official FCOS (tianzhi0549/FCOS): no package to import, so
  :class:`OfficialFCOS` below re-implements its modules in plain torch with
  its attribute names and forward code (maskrcnn-benchmark ResNet with
  FrozenBatchNorm2d and stride in the 1x1 conv, FPN with ``fpn_inner`` /
  ``fpn_layer`` and ``LastLevelP6P7``, the FCOS head with its towers as
  conv / GN / ReLU Sequentials); its state dict, keys prefixed ``module.``
  as DistributedDataParallel saves them, is the converter's input.
"""
import importlib.util
import math
import os.path as osp
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from fcos_mm.registry import MODELS
from fcos_mm.utils import load_safely

TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONVERTERS = osp.join(osp.dirname(TESTS), 'tools', 'model_converters')


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The scripts import their shared converter_utils as a sibling module, as
# they do when run as `python tools/model_converters/SCRIPT.py`.
sys.path.insert(0, CONVERTERS)
mmdet2fcos_mm = _load('mmdet2fcos_mm', osp.join(CONVERTERS,
                                                'mmdet2fcos_mm.py'))
official2fcos_mm = _load('fcos_official2fcos_mm',
                         osp.join(CONVERTERS, 'fcos_official2fcos_mm.py'))
sys.path.remove(CONVERTERS)
convert_mmdet_checkpoint = mmdet2fcos_mm.convert_mmdet_checkpoint
UnknownKeysError = official2fcos_mm.UnknownKeysError
convert_official_checkpoint = official2fcos_mm.convert_official_checkpoint
convert_official_state_dict = official2fcos_mm.convert_official_state_dict
official_extra_convs_source = official2fcos_mm.official_extra_convs_source


# Widths of the conftest model: ResNet-50 layout at 1/8 width (C2..C5
# have 32..256 channels), FPN and head 32 wide (GroupNorm(32) needs >= 32).
BASE = 8
WIDTH = 32
NUM_CLASSES = 3


def _randomize(module: nn.Module, seed: int) -> None:
    """Non-trivial norms, biases and scales (init leaves them 1 / 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(
                module.named_buffers()):
            if not t.is_floating_point():
                continue
            r = torch.rand(t.shape, generator=gen)
            if name.endswith('running_var'):
                t.copy_(0.5 + r)
            elif name.endswith('running_mean') or name.endswith('bias'):
                t.copy_(0.2 * (r - 0.5))
            elif name.endswith('scale') or t.dim() == 1:
                t.copy_(0.8 + 0.4 * r)
            else:
                # conv weights: He-like scale keeps activations O(1)
                fan_in = t[0].numel()
                t.copy_((r - 0.5) * math.sqrt(12 * 2 / fan_in))


def _images(seed=0, size=64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, size, size, generator=gen) * 50


def _our_model(model_cfg, **kwargs):
    init_default_scope('fcos_mm')
    model = MODELS.build(model_cfg(**kwargs))
    return model.eval()


def _assert_same_outputs(ours, theirs):
    """Nested lists / tuples of tensors equal up to float rounding."""
    if isinstance(ours, torch.Tensor):
        scale = theirs.abs().max().clamp(min=1e-6)
        assert ours.shape == theirs.shape
        assert ((ours - theirs).abs().max() / scale).item() < 1e-4
        return
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        _assert_same_outputs(a, b)


# ---------------------------------------------------------------- mmdet
def test_mmdet_checkpoint_loads_strictly_and_matches(tmp_path, model_cfg):
    init_default_scope('fcos_mm')
    source = MODELS.build(model_cfg(scope='mmdet.')).eval()
    assert type(source.bbox_head).__module__.startswith('mmdet.')
    _randomize(source, seed=1)
    checkpoint = {
        'state_dict': source.state_dict(),
        'meta': {
            'mmdet_version': '3.3.0',
            'dataset_meta': {
                'classes': ('a', 'b', 'c'),
                'palette': [(1, 2, 3)] * 3
            }
        },
        'optimizer': {'state': {}, 'param_groups': []},
    }
    converted = convert_mmdet_checkpoint(checkpoint)
    assert set(converted) == {'state_dict', 'meta'}
    assert converted['meta']['dataset_meta']['classes'] == ['a', 'b', 'c']

    # Saved and read back with the weights_only loader.
    path = tmp_path / 'converted.pth'
    torch.save(converted, path)
    reloaded = load_safely(str(path))

    ours = _our_model(model_cfg)
    ours.load_state_dict(reloaded['state_dict'], strict=True)
    images = _images()
    with torch.no_grad():
        _assert_same_outputs(ours._forward(images), source._forward(images))


def test_mmdet_v1_names_and_ddp_prefix_are_renamed(model_cfg):
    init_default_scope('fcos_mm')
    source = MODELS.build(model_cfg(scope='mmdet.')).eval()
    _randomize(source, seed=2)
    legacy = OrderedDict()
    for key, value in source.state_dict().items():
        key = key.replace('bbox_head.conv_cls', 'bbox_head.fcos_cls')
        key = key.replace('bbox_head.conv_reg', 'bbox_head.fcos_reg')
        key = key.replace('bbox_head.conv_centerness',
                          'bbox_head.fcos_centerness')
        if key.endswith('.scale'):
            value = value.reshape(1)  # old Scale held a (1,) tensor
        legacy['module.' + key] = value
    converted = convert_mmdet_checkpoint({
        'state_dict': legacy,
        'meta': {
            'CLASSES': ('a', 'b', 'c')
        }
    })
    assert converted['meta']['dataset_meta'] == {'classes': ['a', 'b', 'c']}
    assert 'bbox_head.conv_cls.weight' in converted['state_dict']
    ours = _our_model(model_cfg)
    ours.load_state_dict(converted['state_dict'], strict=True)
    images = _images(seed=3)
    with torch.no_grad():
        _assert_same_outputs(ours._forward(images), source._forward(images))


def test_mmdet_converter_names_a_missing_state_dict():
    with pytest.raises(KeyError, match='no state dict'):
        convert_mmdet_checkpoint({'meta': {}, 'epoch': 3})


# ------------------------------------------------------------- official
class FrozenBatchNorm2d(nn.Module):
    """maskrcnn-benchmark's: fixed affine and statistics, no eps."""

    def __init__(self, n):
        super().__init__()
        self.register_buffer('weight', torch.ones(n))
        self.register_buffer('bias', torch.zeros(n))
        self.register_buffer('running_mean', torch.zeros(n))
        self.register_buffer('running_var', torch.ones(n))

    def forward(self, x):
        scale = self.weight * self.running_var.rsqrt()
        bias = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)


class Bottleneck(nn.Module):
    """MSRA bottleneck: stride in the first 1x1 conv."""

    def __init__(self, in_channels, mid, out_channels, stride):
        super().__init__()
        self.downsample = None
        if in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                FrozenBatchNorm2d(out_channels))
        self.conv1 = nn.Conv2d(in_channels, mid, 1, stride, bias=False)
        self.bn1 = FrozenBatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, 1, 1, bias=False)
        self.bn2 = FrozenBatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, bias=False)
        self.bn3 = FrozenBatchNorm2d(out_channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class Stem(nn.Module):

    def __init__(self, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(3, out_channels, 7, 2, 3, bias=False)
        self.bn1 = FrozenBatchNorm2d(out_channels)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)


class ResNetBody(nn.Module):

    def __init__(self):
        super().__init__()
        self.stem = Stem(BASE)
        in_channels = BASE
        for index, blocks in enumerate((3, 4, 6, 3), 1):
            mid, out = BASE * 2**(index - 1), 4 * BASE * 2**(index - 1)
            stride = 1 if index == 1 else 2
            layers = []
            for _ in range(blocks):
                layers.append(Bottleneck(in_channels, mid, out, stride))
                in_channels, stride = out, 1
            self.add_module(f'layer{index}', nn.Sequential(*layers))

    def forward(self, x):
        x = self.stem(x)
        outputs = []
        for index in range(1, 5):
            x = getattr(self, f'layer{index}')(x)
            outputs.append(x)
        return outputs


class LastLevelP6P7(nn.Module):

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.p6 = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.p7 = nn.Conv2d(out_channels, out_channels, 3, 2, 1)
        self.use_P5 = in_channels == out_channels

    def forward(self, c5, p5):
        p6 = self.p6(p5 if self.use_P5 else c5)
        return [p6, self.p7(F.relu(p6))]


class FPN(nn.Module):
    """in_channels_list [0, C3, C4, C5]: blocks 2..4 exist, 1 is skipped."""

    def __init__(self, use_p5):
        super().__init__()
        self.inner_blocks, self.layer_blocks = [], []
        for idx, channels in enumerate([0, 8 * BASE, 16 * BASE, 32 * BASE],
                                       1):
            if channels == 0:
                continue
            self.add_module(f'fpn_inner{idx}', nn.Conv2d(channels, WIDTH, 1))
            self.add_module(f'fpn_layer{idx}',
                            nn.Conv2d(WIDTH, WIDTH, 3, 1, 1))
            self.inner_blocks.append(f'fpn_inner{idx}')
            self.layer_blocks.append(f'fpn_layer{idx}')
        self.top_blocks = LastLevelP6P7(WIDTH if use_p5 else 32 * BASE,
                                        WIDTH)

    def forward(self, x):
        last_inner = getattr(self, self.inner_blocks[-1])(x[-1])
        results = [getattr(self, self.layer_blocks[-1])(last_inner)]
        for feature, inner, layer in zip(x[:-1][::-1],
                                         self.inner_blocks[:-1][::-1],
                                         self.layer_blocks[:-1][::-1]):
            lateral = getattr(self, inner)(feature)
            top_down = F.interpolate(
                last_inner, size=lateral.shape[-2:], mode='nearest')
            last_inner = lateral + top_down
            results.insert(0, getattr(self, layer)(last_inner))
        results.extend(self.top_blocks(x[-1], results[-1]))
        return results


class Scale(nn.Module):

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.FloatTensor([1.0]))

    def forward(self, x):
        return x * self.scale


class OfficialHead(nn.Module):

    def __init__(self, num_convs, centerness_on_reg):
        super().__init__()
        self.centerness_on_reg = centerness_on_reg
        for name in ('cls_tower', 'bbox_tower'):
            tower = []
            for _ in range(num_convs):
                tower += [
                    nn.Conv2d(WIDTH, WIDTH, 3, 1, 1, bias=True),
                    nn.GroupNorm(32, WIDTH),
                    nn.ReLU()
                ]
            self.add_module(name, nn.Sequential(*tower))
        self.cls_logits = nn.Conv2d(WIDTH, NUM_CLASSES, 3, 1, 1)
        self.bbox_pred = nn.Conv2d(WIDTH, 4, 3, 1, 1)
        self.centerness = nn.Conv2d(WIDTH, 1, 3, 1, 1)
        self.scales = nn.ModuleList([Scale() for _ in range(5)])

    def forward(self, x):
        logits, bbox_reg, centerness = [], [], []
        for level, feature in enumerate(x):
            cls_tower = self.cls_tower(feature)
            box_tower = self.bbox_tower(feature)
            logits.append(self.cls_logits(cls_tower))
            centerness.append(
                self.centerness(
                    box_tower if self.centerness_on_reg else cls_tower))
            bbox_reg.append(
                torch.exp(self.scales[level](self.bbox_pred(box_tower))))
        return logits, bbox_reg, centerness


class OfficialFCOS(nn.Module):
    """GeneralizedRCNN(backbone=Sequential(body, fpn), rpn=FCOSModule)."""

    def __init__(self, use_p5=True, centerness_on_reg=False, num_convs=2):
        super().__init__()
        self.backbone = nn.Sequential(
            OrderedDict(body=ResNetBody(), fpn=FPN(use_p5)))
        self.rpn = nn.Module()
        self.rpn.head = OfficialHead(num_convs, centerness_on_reg)

    def forward(self, images):
        feats = self.backbone.fpn(self.backbone.body(images))
        return feats, self.rpn.head(feats)


@pytest.mark.parametrize('use_p5,centerness_on_reg', [(True, False),
                                                      (False, True)])
def test_official_checkpoint_loads_strictly_and_matches(
        tmp_path, model_cfg, use_p5, centerness_on_reg):
    source = OfficialFCOS(use_p5, centerness_on_reg).eval()
    _randomize(source, seed=4)
    state_dict = OrderedDict(
        ('module.' + k, v) for k, v in source.state_dict().items())
    # The official key names the brief lists, as this reference has them.
    for key in ('module.backbone.body.stem.conv1.weight',
                'module.backbone.body.stem.bn1.running_var',
                'module.backbone.body.layer1.0.downsample.1.weight',
                'module.backbone.fpn.fpn_inner2.weight',
                'module.backbone.fpn.fpn_layer4.bias',
                'module.backbone.fpn.top_blocks.p7.weight',
                'module.rpn.head.cls_tower.3.weight',
                'module.rpn.head.bbox_tower.4.bias',
                'module.rpn.head.scales.4.scale'):
        assert key in state_dict
    extra_convs = 'on_output' if use_p5 else 'on_input'
    assert official_extra_convs_source(state_dict) == extra_convs

    converted = convert_official_checkpoint(
        {'model': state_dict, 'iteration': 90000}, classes=['a', 'b', 'c'])
    assert converted['meta']['extra_convs_on'] == extra_convs
    path = tmp_path / 'official.pth'
    torch.save(converted, path)
    reloaded = load_safely(str(path))

    ours = _our_model(
        model_cfg,
        extra_convs=extra_convs, centerness_on_reg=centerness_on_reg)
    ours.load_state_dict(reloaded['state_dict'], strict=True)
    images = _images(seed=5)
    with torch.no_grad():
        feats, head_outs = source(images)
        _assert_same_outputs(ours.extract_feat(images), feats)
        _assert_same_outputs(ours._forward(images), head_outs)


def test_official_frozen_bn_eps_is_folded():
    # One FrozenBN with running_var 1e-4: without folding, eps = 1e-5
    # would change its output by ~5%; converted, BN matches exactly.
    source = OfficialFCOS()
    bn = source.backbone.body.stem.bn1
    bn.running_var.fill_(1e-4)
    converted = convert_official_state_dict(source.state_dict())
    target = nn.BatchNorm2d(BASE, eps=1e-5).eval()
    target.load_state_dict({
        k[len('backbone.bn1.'):]: v
        for k, v in converted.items() if k.startswith('backbone.bn1.')
    })
    x = torch.randn(1, BASE, 4, 4)
    torch.testing.assert_close(target(x), bn(x), rtol=1e-5, atol=1e-6)


def test_official_converter_lists_unknown_keys():
    state_dict = OfficialFCOS().state_dict()
    state_dict['rpn.head.cls_tower.3.conv_offset.weight'] = torch.zeros(1)
    state_dict['roi_heads.box.weight'] = torch.zeros(1)
    with pytest.raises(UnknownKeysError) as info:
        convert_official_state_dict(state_dict)
    assert 'rpn.head.cls_tower.3.conv_offset.weight' in str(info.value)
    assert 'roi_heads.box.weight' in str(info.value)
    del state_dict['rpn.head.cls_tower.3.conv_offset.weight']
    del state_dict['roi_heads.box.weight']
    del state_dict['backbone.body.layer2.0.bn1.running_mean']
    with pytest.raises(UnknownKeysError, match='layer2.0.bn1'):
        convert_official_state_dict(state_dict)
