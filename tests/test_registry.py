"""Scope ``fcos_mm``: mmdet's classes through plain names, ours shadowing."""
import pytest
from mmdet.datasets import CocoDataset as MMDetCocoDataset
from mmdet.datasets.transforms import PackDetInputs
from mmdet.evaluation import CocoMetric
from mmdet.models.backbones import ResNet
from mmdet.models.necks import FPN
from mmdet.visualization import DetLocalVisualizer
from mmengine.registry import DefaultScope, init_default_scope

from fcos_mm import registry
from fcos_mm.registry import DATASETS, METRICS, MODELS, TRANSFORMS, VISUALIZERS


@pytest.fixture(autouse=True)
def fcos_mm_scope():
    init_default_scope('fcos_mm')
    yield


def test_every_node_is_a_child_of_mmdets_node():
    import mmdet.registry as mmdet_registry
    import mmengine.registry as mmengine_registry
    names = [n for n in registry.__all__ if n != 'SCOPE']
    assert len(names) == 21
    for name in names:
        node = getattr(registry, name)
        assert node.scope == 'fcos_mm'
        # mmdet 3.3 has no INFERENCERS node; that one hangs under mmengine
        source = mmdet_registry if hasattr(mmdet_registry,
                                           name) else mmengine_registry
        parent = getattr(source, name)
        assert node.parent is parent, name


def test_plain_config_dicts_build_mmdets_backbone_and_neck():
    backbone = MODELS.build(
        dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
             out_indices=(1, 2)))
    backbone.eval()  # BN on 1x1 maps
    neck = MODELS.build(
        dict(type='FPN', in_channels=[16, 32], out_channels=8, num_outs=3))
    assert type(backbone) is ResNet
    assert type(neck) is FPN
    # the built modules are real: a forward pass gives FPN's three levels
    import torch
    feats = neck(backbone(torch.rand(1, 3, 32, 32)))
    assert [tuple(f.shape) for f in feats] == [(1, 8, 4, 4), (1, 8, 2, 2),
                                               (1, 8, 1, 1)]


@pytest.mark.parametrize('node, name, mmdet_cls', [
    (DATASETS, 'CocoDataset', MMDetCocoDataset),
    (METRICS, 'CocoMetric', CocoMetric),
    (TRANSFORMS, 'PackDetInputs', PackDetInputs),
    (VISUALIZERS, 'DetLocalVisualizer', DetLocalVisualizer),
])
def test_names_resolve_to_mmdet_classes(node, name, mmdet_cls):
    # Ours may specialise one of these (a subclass in our scope), never
    # replace it with something that is not mmdet's class.
    assert issubclass(node.get(name), mmdet_cls)
    assert node.get(f'mmdet.{name}') is mmdet_cls


def test_our_class_shadows_mmdets_and_mmdet_prefix_still_reaches_theirs():
    class FPN(object):  # a stand-in of ours under a clashing name
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    MODELS.register_module(module=FPN)
    try:
        ours = MODELS.build(dict(type='FPN', out_channels=8))
        theirs = MODELS.build(
            dict(type='mmdet.FPN', in_channels=[4], out_channels=8,
                 num_outs=1))
        assert type(ours) is FPN and ours.kwargs == dict(out_channels=8)
        assert type(theirs) is globals()['FPN']
    finally:
        MODELS._module_dict.pop('FPN')
    assert MODELS.get('FPN') is globals()['FPN']


def test_register_all_modules_sets_the_default_scope():
    from fcos_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'fcos_mm'
    init_default_scope('mmdet')
    register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'fcos_mm'
    register_all_modules(init_default_scope=False)
    assert DefaultScope.get_current_instance().scope_name == 'fcos_mm'


def test_a_fresh_process_finds_our_classes_and_mmdets_lazily():
    """No import beyond the registry: the nodes' locations do the work."""
    import subprocess
    import sys
    code = (
        'from mmengine.registry import init_default_scope\n'
        'from fcos_mm.registry import MODELS, OPTIM_WRAPPERS, TASK_UTILS\n'
        'init_default_scope("fcos_mm")\n'
        'for node, name in ((MODELS, "FCOSHead"), (MODELS, "ResNet"),\n'
        '                   (TASK_UTILS, "FCOSPointAssigner"),\n'
        '                   (OPTIM_WRAPPERS, "AutocastOptimWrapper")):\n'
        '    print(node.get(name).__module__)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == [
        'fcos_mm.models.dense_heads.fcos_head',
        'mmdet.models.backbones.resnet',
        'fcos_mm.models.task_modules.assigners.fcos_point_assigner',
        'fcos_mm.engine.optim_wrappers.autocast_optim_wrapper'
    ]


def test_fcos_head_is_ours_and_mmdet_prefix_reaches_mmdets():
    from mmdet.models.dense_heads import FCOSHead as MMDetFCOSHead

    from fcos_mm.models import FCOSHead
    assert MODELS.get('FCOSHead') is FCOSHead
    assert MODELS.get('mmdet.FCOSHead') is MMDetFCOSHead
    assert FCOSHead is not MMDetFCOSHead
