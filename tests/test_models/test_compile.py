"""A training step with no host sync and no graph break: counted with
torch.profiler (``aten::_local_scalar_dense``, ``aten::nonzero``) and
``torch._dynamo.explain`` on CPU; the compiled loss against eager.

Compiling is slow on a small CPU, so the models are tiny (ResNet-18 with 8
base channels, 8-channel FPN and head) and most checks trace with Dynamo
alone (``explain``, or a backend that counts graphs); the numbers of a
compiled step go through AOTAutograd (``backend='aot_eager'``)."""
import copy
import glob
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from fcos_mm.benchmarks import count_ops, random_batch
from fcos_mm.models.detectors import fcos as fcos_module
from fcos_mm.models.detectors.fcos import compile_options
from fcos_mm.models.utils import GT_CHECKED, prepare_ground_truth
from fcos_mm.registry import MODELS
from fcos_mm.utils import register_all_modules

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs')
IMPROVEMENTS = osp.join(
    CONFIGS, 'fcos',
    'fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_8xb2-1x_coco.py')
DEMO = osp.join(
    CONFIGS, 'demo', 'fcos_r18-w16_fpn-64_gn-head-center-normbbox-'
    'centeronreg-giou_1xb8-1000i_synthetic.py')


def shrink(cfg):
    """A model config with a ResNet-18 of 8 base channels and an 8-channel
    FPN and head (2 convs per tower)."""
    backbone = cfg.backbone
    for key in ('groups', 'base_width'):  # ResNeXt
        backbone.pop(key, None)
    backbone.update(type='ResNet', depth=18, base_channels=8, init_cfg=None)
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=8)
    cfg.bbox_head.update(
        in_channels=8,
        feat_channels=8,
        stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    return cfg


def tiny_model(config, **detector_kwargs):
    """``config``'s (file or model config) FCOS, :func:`shrink`-ed, in train
    mode, seed 0."""
    register_all_modules()
    cfg = shrink(Config.fromfile(config).model if isinstance(config, str)
                 else copy.deepcopy(config))
    cfg.update(detector_kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg).train()


def distinct_models():
    """The model configs of configs/fcos/, once each after :func:`shrink`
    (R50, R101 and X101 of one recipe become one), without DCN: mmcv's
    DCNv2 is a C++ extension Dynamo cannot trace (14 graph breaks)."""
    models = {}
    for path in sorted(glob.glob(osp.join(CONFIGS, 'fcos', 'fcos_*.py'))):
        if '-dcn' in osp.basename(path):
            continue
        cfg = Config.fromfile(path).model
        models.setdefault(repr(shrink(copy.deepcopy(cfg)).to_dict()),
                          (osp.basename(path), cfg))
    return dict(models.values())


COMPILABLE = distinct_models()


def batch(num_gts=6, shape=(64, 96), num_classes=80, seed=0, pad=False):
    inputs, samples = random_batch(2, shape, num_gts, num_classes, seed=seed)
    for img_idx, sample in enumerate(samples):  # as a data loader gives
        sample.set_metainfo(
            dict(img_id=10 * seed + img_idx, img_path=f'{seed}_{img_idx}.jpg',
                 flip=bool(seed % 2), flip_direction='horizontal'))
    prepare_ground_truth(samples, num_classes, pad_to_bucket=pad)
    return inputs, samples


def test_a_training_step_has_no_host_sync():
    model = tiny_model(IMPROVEMENTS)
    inputs, samples = random_batch(2, (256, 320), 30, 80)
    data = model.data_preprocessor(
        dict(inputs=list(inputs), data_samples=samples), True)
    # the pre-hook checked the ground truth on the host and said so
    assert all(s.metainfo[GT_CHECKED] for s in data['data_samples'])
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step():
        optimizer.zero_grad()
        losses = model(**data, mode='loss')
        sum(losses.values()).backward()
        optimizer.step()

    step()
    counts = count_ops(step)
    assert counts['aten::_local_scalar_dense'] == 0, counts
    assert counts['aten::nonzero'] == 0, counts
    # an unflagged batch is checked in the head, one read-back
    for sample in data['data_samples']:
        sample.set_metainfo({GT_CHECKED: False})
    assert count_ops(step)['syncs'] == 1
    # a test batch is left alone
    _, samples = random_batch(2, (64, 96), 3, 80)
    model.data_preprocessor(
        dict(inputs=list(inputs), data_samples=samples), False)
    assert all(GT_CHECKED not in s.metainfo for s in samples)


def test_head_forward_and_loss_have_no_graph_break():
    model = tiny_model(IMPROVEMENTS)
    inputs, samples = batch(num_gts=30, shape=(256, 320))
    head = model.bbox_head
    feats = model.extract_feat(inputs)
    gts = [s.gt_instances for s in samples]
    metas = [s.metainfo for s in samples]
    torch._dynamo.reset()
    explained = torch._dynamo.explain(
        lambda feats: head.loss_by_feat(*head(feats), gts, metas))(feats)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


@pytest.mark.parametrize('name', sorted(COMPILABLE))
def test_every_config_loss_is_one_graph(name):
    model = tiny_model(COMPILABLE[name])
    inputs, samples = batch(pad=True)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model.loss)(inputs, samples)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


class GraphCounter:
    """A Dynamo backend that counts the graphs it is given, runs them
    eagerly."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, graph_module, example_inputs):
        self.graphs += 1
        return graph_module.forward


def test_box_buckets_and_batch_shapes_recompile_only_when_new():
    model = tiny_model(IMPROVEMENTS)
    counter = GraphCounter()
    model.compile_loss = dict(compile_options(True), backend=counter)
    torch._dynamo.reset()
    expected = []
    for num_gts, shape, seed in [(5, (64, 96), 0), (7, (64, 96), 1),
                                 (8, (64, 96), 2), (9, (64, 96), 0),
                                 (3, (96, 64), 0), (6, (64, 96), 3)]:
        # unpadded and unflagged: the loss checks and pads them itself
        model.loss(*batch(num_gts, shape, seed=seed))
        expected.append(counter.graphs)
    # 5, 7 and 8 boxes share the bucket of 8 (other images, ids and flips:
    # no metainfo reaches the graph); 9 boxes pad to 16; a new image shape
    # compiles once more; 6 boxes at 64x96 again: none
    assert expected == [1, 1, 1, 2, 3, 3]


@pytest.mark.parametrize('num_gts', [0, 5])
def test_padding_changes_no_loss(num_gts):
    model = tiny_model(IMPROVEMENTS)
    plain = model.loss(*batch(num_gts))
    padded = model.loss(*batch(num_gts, pad=True))
    for key, value in plain.items():
        torch.testing.assert_close(padded[key], value, rtol=1e-6, atol=0)


@pytest.fixture(scope='module')
def demo_runs():
    """Losses of 3 SGD steps of the demo config's model, eager and compiled
    (``aot_eager``: Dynamo and AOTAutograd, without codegen), same data."""
    logger = MMLogger.get_current_instance()
    runs = {}
    for name, kwargs in (('eager', {}), ('compiled', dict(
            compile_loss=dict(backend='aot_eager')))):
        model = tiny_model(DEMO, **kwargs)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        runs[name] = []
        torch._dynamo.reset()
        for seed in range(3):
            inputs, samples = random_batch(2, (96, 128), 4, 3, seed=seed)
            data = model.data_preprocessor(
                dict(inputs=list(inputs), data_samples=samples), True)
            optimizer.zero_grad()
            losses = model(**data, mode='loss')
            sum(losses.values()).backward()
            optimizer.step()
            runs[name].append(
                {key: value.detach()
                 for key, value in losses.items()})
    logger.setLevel(logging.INFO)
    return runs


def test_compiled_loss_equals_eager(demo_runs):
    eager, compiled = demo_runs['eager'][0], demo_runs['compiled'][0]
    assert set(eager) == {'loss_cls', 'loss_bbox', 'loss_centerness'}
    for key, value in eager.items():
        torch.testing.assert_close(compiled[key], value, rtol=1e-4, atol=0)


def test_compiled_iterations_equal_eager(demo_runs):
    for eager, compiled in zip(demo_runs['eager'], demo_runs['compiled']):
        for key, value in eager.items():
            torch.testing.assert_close(
                compiled[key], value, rtol=1e-4, atol=1e-6)


def test_compile_options():
    assert compile_options(None) is None and compile_options(False) is None
    assert compile_options(True) == dict(fullgraph=True, dynamic=False)
    assert compile_options(dict(backend='eager', fullgraph=False)) == dict(
        fullgraph=False, dynamic=False, backend='eager')
    with pytest.raises(ValueError, match='cuda_graphs needs compile_loss'):
        compile_options(None, cuda_graphs=True)
    with pytest.raises(ValueError, match='a bool or a dict'):
        compile_options('yes')


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU fallback')
def test_cuda_graphs_without_cuda_fall_back_with_a_message(monkeypatch):
    messages = []
    monkeypatch.setattr(fcos_module, 'print_log',
                        lambda msg, *args, **kwargs: messages.append(msg))
    options = compile_options(True, cuda_graphs=True)
    assert 'mode' not in options
    assert 'cuda_graphs needs CUDA' in messages[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_graphs_capture_the_loss_on_cuda():
    assert compile_options(True, cuda_graphs=True)['mode'] == (
        'reduce-overhead')
    eager = tiny_model(DEMO).cuda()
    graphed = tiny_model(DEMO, compile_loss=True, cuda_graphs=True).cuda()
    for seed in range(3):  # the later calls replay the graphs
        inputs, samples = batch(4, (96, 128), 3, seed, pad=True)
        inputs = inputs.cuda()
        samples = [sample.cuda() for sample in samples]
        want = eager.loss(inputs, samples)
        got = graphed.loss(inputs, samples)
        for key, value in want.items():
            torch.testing.assert_close(got[key], value, rtol=1e-4, atol=1e-6)
        sum(got.values()).backward()  # the graphed backward too
    for name, param in graphed.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.isfinite().all(), \
                name


def test_deep_copies_compile_again():
    model = tiny_model(DEMO, compile_loss=dict(backend='eager'),
                       gt_min_bucket=32)
    inputs, samples = random_batch(2, (64, 96), 3, 3)
    data = model.data_preprocessor(
        dict(inputs=list(inputs), data_samples=samples), True)
    # padded to the configured bucket
    assert len(data['data_samples'][0].gt_instances) == 32
    model(**data, mode='loss')
    assert model._compiled_loss is not None
    assert torch._dynamo.config.recompile_limit >= 64
    assert copy.deepcopy(model)._compiled_loss is None
