"""The option handling behind tools/train.py and tools/test.py."""
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from fcos_mm.engine import (
    AutocastOptimWrapper,
    enable_amp,
    prepare_launch,
    setup_test_cfg,
    setup_train_cfg,
)
from fcos_mm.engine.runner_setup import build_runner


def _cfg(**kwargs):
    base = dict(
        optim_wrapper=dict(
            type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)),
        auto_scale_lr=dict(enable=False, base_batch_size=16),
        default_hooks=dict(visualization=dict(type='DetVisualizationHook')),
        env_cfg=dict(dist_cfg=dict(backend='nccl')))
    base.update(kwargs)
    return Config(base)


def test_work_dir_from_option_config_or_file_name():
    cfg = setup_train_cfg(_cfg(), config_path='configs/x/my_cfg.py')
    assert cfg.work_dir == './work_dirs/my_cfg'
    assert cfg.default_scope == 'fcos_mm'
    cfg = setup_train_cfg(_cfg(work_dir='w0'), config_path='a/b.py')
    assert cfg.work_dir == 'w0'
    cfg = setup_train_cfg(_cfg(work_dir='w0'), 'a/b.py', work_dir='w1')
    assert cfg.work_dir == 'w1'


def test_resume_options():
    cfg = setup_train_cfg(_cfg(load_from='pre.pth'), resume='auto')
    assert cfg.resume is True and cfg.load_from is None
    cfg = setup_train_cfg(_cfg(), resume='w/epoch_3.pth')
    assert cfg.resume is True and cfg.load_from == 'w/epoch_3.pth'
    cfg = setup_train_cfg(_cfg(resume=False, load_from='pre.pth'))
    assert cfg.resume is False and cfg.load_from == 'pre.pth'


def test_auto_scale_lr():
    assert setup_train_cfg(_cfg(), auto_scale_lr=True).auto_scale_lr.enable
    assert not setup_train_cfg(_cfg()).auto_scale_lr.enable
    with pytest.raises(RuntimeError, match='base_batch_size'):
        setup_train_cfg(_cfg(auto_scale_lr=dict(enable=False)),
                        auto_scale_lr=True)


def test_amp_is_bf16_autocast_on_cpu():
    cfg = setup_train_cfg(_cfg(), amp=True)
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'


def test_amp_is_fp16_with_dynamic_loss_scale_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = _cfg()
    assert enable_amp(cfg) == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert 'dtype' not in cfg.optim_wrapper


def test_amp_leaves_mixed_precision_configs_and_refuses_others():
    cfg = _cfg(optim_wrapper=dict(type='AmpOptimWrapper', loss_scale=512.))
    assert enable_amp(cfg) == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 512.
    with pytest.raises(ValueError, match="'ApexOptimWrapper'"):
        enable_amp(_cfg(optim_wrapper=dict(type='ApexOptimWrapper')))


def test_test_cfg_checkpoint_and_show_dir():
    cfg = setup_test_cfg(_cfg(), 'w/epoch_12.pth', 'configs/t.py',
                         show_dir='vis')
    assert cfg.load_from == 'w/epoch_12.pth'
    assert cfg.work_dir == './work_dirs/t'
    vis = cfg.default_hooks.visualization
    assert vis.draw is True and vis.test_out_dir == 'vis'
    with pytest.raises(RuntimeError, match='visualization hook'):
        setup_test_cfg(_cfg(default_hooks={}), 'c.pth', show_dir='vis')


def test_test_cfg_onnx_model_and_amp(monkeypatch):
    preprocessor = dict(type='DetDataPreprocessor', pad_size_divisor=32)
    cfg = setup_test_cfg(
        _cfg(model=dict(type='FCOS', data_preprocessor=preprocessor)),
        'w/model.onnx')
    assert cfg.model == dict(
        type='ONNXRuntimeDetector',
        onnx_file='w/model.onnx',
        data_preprocessor=preprocessor)
    assert cfg.load_from is None
    # --amp: not for ONNX; on CPU the hook; with CUDA the loop's fp16
    cfg = setup_test_cfg(_cfg(model=dict(type='FCOS')), 'm.onnx', amp=True)
    assert 'custom_hooks' not in cfg
    cfg = setup_test_cfg(
        _cfg(custom_hooks=[dict(type='X')]), 'c.pth', amp=True)
    assert cfg.custom_hooks == [
        dict(type='X'), dict(type='CPUInferenceHook', amp=True)
    ]
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = setup_test_cfg(_cfg(test_cfg=dict(type='TestLoop')), 'c.pth',
                         amp=True)
    assert cfg.test_cfg == dict(type='TestLoop', fp16=True)
    assert 'custom_hooks' not in cfg


def test_test_cfg_openvino_model_precision_and_compile():
    cfg = setup_test_cfg(
        _cfg(model=dict(type='FCOS', bbox_head=dict(num_classes=2))),
        'w/model.xml', precision='f32')
    assert cfg.model == dict(
        type='OpenVINODetector', model_file='w/model.xml', precision='f32',
        data_preprocessor=None, num_classes=2)
    assert cfg.load_from is None
    cfg = setup_test_cfg(_cfg(), 'c.pth', compile=True)
    assert cfg.custom_hooks == [
        dict(type='CPUInferenceHook', amp=False, compile=True)
    ]


def test_prepare_launch_none_starts_nothing():
    cfg = _cfg()
    assert prepare_launch(cfg, 'none') is None
    assert cfg.launcher == 'none'
    assert 'model_wrapper_cfg' not in cfg


def test_autocast_wrapper_arguments():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    wrapper = AutocastOptimWrapper(optimizer=opt)
    assert wrapper.cast_dtype is torch.bfloat16
    assert wrapper.device_type == 'cpu'
    with pytest.raises(TypeError, match="'float17'"):
        AutocastOptimWrapper(optimizer=opt, dtype='float17')


def test_amp_trains_in_bfloat16_on_cpu(tmp_path, tiny_config):
    cfg = Config.fromfile(
        tiny_config(batch_size=2, max_epochs=2), import_custom_modules=False)
    cfg.pop('custom_imports')
    cfg.custom_hooks = []
    setup_train_cfg(cfg, work_dir=str(tmp_path / 'amp'), amp=True)
    cfg.experiment_name = 'test_amp_trains_in_bfloat16_on_cpu'
    runner = Runner.from_cfg(cfg)

    dtypes, losses = [], []
    runner.model.bbox_head.conv_cls.register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype))
    before = {
        k: v.detach().clone()
        for k, v in runner.model.named_parameters()
    }

    class Record(Hook):

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            losses.append({k: float(v) for k, v in outputs.items()})

    runner.register_hook(Record(), priority='LOWEST')
    runner.train()
    assert isinstance(runner.optim_wrapper, AutocastOptimWrapper)

    # 2 images, batch 2, 2 epochs: 2 iterations, each calling the shared
    # conv_cls on 5 levels, in bfloat16.
    assert len(losses) == 2 and len(dtypes) == 2 * 5
    assert set(dtypes) == {torch.bfloat16}
    for step in losses:
        assert all(torch.isfinite(torch.tensor(v)) for v in step.values())
    after = dict(runner.model.named_parameters())
    # Master weights stay float32 and the head has been updated.
    assert after['bbox_head.conv_cls.weight'].dtype == torch.float32
    assert not torch.equal(before['bbox_head.conv_cls.weight'],
                           after['bbox_head.conv_cls.weight'])


def test_prepare_launch_on_cpu_starts_gloo_and_drops_device_ids(
        monkeypatch):
    import socket

    import torch.distributed as torch_dist
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for name, value in dict(
            RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
            MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port)).items():
        monkeypatch.setenv(name, value)
    cfg = _cfg(find_unused_parameters=True)
    try:
        assert prepare_launch(cfg, 'pytorch') == 'gloo'
        assert torch_dist.get_world_size() == 1
    finally:
        torch_dist.destroy_process_group()
    assert cfg.launcher == 'pytorch'
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel', device_ids=None,
        broadcast_buffers=False, find_unused_parameters=True)


def test_build_runner_from_runner_type_or_mmengine(monkeypatch):
    from mmengine.registry import RUNNERS

    class Custom:

        @classmethod
        def from_cfg(cls, cfg):
            return ('custom', cfg.launcher)

    monkeypatch.setattr(Runner, 'from_cfg',
                        classmethod(lambda cls, cfg: ('mmengine', cfg)))
    monkeypatch.setitem(RUNNERS._module_dict, 'CustomTestRunner', Custom)
    assert build_runner(_cfg(), 'none')[0] == 'mmengine'
    assert build_runner(_cfg(runner_type='CustomTestRunner'),
                        'none') == ('custom', 'none')


def test_compile_and_cuda_graphs_switch_the_model():
    cfg = setup_train_cfg(_cfg(model=dict(type='FCOS')), compile_loss=True)
    assert cfg.model.compile_loss is True and cfg.model.cuda_graphs is False
    cfg = setup_train_cfg(_cfg(model=dict(type='FCOS')), cuda_graphs=True)
    assert cfg.model.compile_loss is True and cfg.model.cuda_graphs is True
    # the config's own compile options stay
    options = dict(backend='aot_eager')
    cfg = setup_train_cfg(
        _cfg(model=dict(type='FCOS', compile_loss=options)),
        compile_loss=True)
    assert cfg.model.compile_loss == options
    assert 'compile_loss' not in setup_train_cfg(_cfg(model=dict())).model


@pytest.mark.parametrize('cuda', [False, True], ids=['cpu', 'cuda'])
def test_batches_are_copied_without_blocking(monkeypatch, tmp_path, cuda):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    cfg = setup_train_cfg(
        _cfg(model=dict(type='FCOS',
                        data_preprocessor=dict(type='DetDataPreprocessor')),
             train_dataloader=dict(batch_size=2)),
        work_dir=str(tmp_path))
    assert cfg.model.data_preprocessor.non_blocking is True
    assert cfg.train_dataloader.get('pin_memory') is (True if cuda else None)
    # a config's own choice stays
    cfg = setup_train_cfg(
        _cfg(model=dict(data_preprocessor=dict(non_blocking=False)),
             train_dataloader=dict(pin_memory=False)),
        work_dir=str(tmp_path))
    assert cfg.model.data_preprocessor.non_blocking is False
    assert cfg.train_dataloader.pin_memory is False
