"""The check that remote pretrained weights can be had, before the model
is built (fcos_mm.engine.pretrained). Nothing here touches the network:
``socket.create_connection`` is replaced, as unreachable (the error an
offline machine gives) or as a tripwire that fails the test if called."""
import os.path as osp
import socket

import pytest
import torch
from mmengine.config import Config

from fcos_mm.engine import pretrained
from fcos_mm.engine.errors import TrainingStopped
from fcos_mm.engine.pretrained import (
    PretrainedUnavailableError,
    check_pretrained_sources,
    hub_cache_path,
    pretrained_sources,
    resolve_url,
)

URL = 'https://download.example.org/weights/fcos_coco-0a0d75a8.pth'


def _cfg(backbone_ckpt='open-mmlab://detectron2/resnet50_caffe',
         load_from=None):
    init_cfg = None if backbone_ckpt is None else dict(
        type='Pretrained', checkpoint=backbone_ckpt)
    return Config(
        dict(
            model=dict(
                type='FCOS',
                backbone=dict(type='ResNet', init_cfg=init_cfg),
                neck=dict(
                    type='FPN',
                    init_cfg=[
                        dict(type='Xavier', layer='Conv2d'),
                        dict(type='Pretrained', checkpoint='local/neck.pth')
                    ]),
                bbox_head=dict(type='FCOSHead')),
            load_from=load_from))


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """torch's hub dir in tmp_path; returns the checkpoints folder."""
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    for name in pretrained._PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / 'checkpoints'


@pytest.fixture
def offline(monkeypatch):
    """Every connection fails as on a machine without DNS; counts tries."""
    tries = []

    def refuse(address, *args, **kwargs):
        tries.append(address)
        raise socket.gaierror(-2, 'Name or service not known')

    monkeypatch.setattr(socket, 'create_connection', refuse)
    return tries


def test_sources_are_the_remote_init_cfgs_and_load_from():
    cfg = _cfg(load_from=URL)
    assert pretrained_sources(cfg) == [
        ('model.backbone.init_cfg', 'open-mmlab://detectron2/resnet50_caffe'),
        ('load_from', URL)
    ]
    # testing loads only load_from; local files are the loader's business
    assert pretrained_sources(cfg, init_cfgs=False) == [('load_from', URL)]
    assert pretrained_sources(_cfg(None, 'work/epoch_1.pth')) == []
    listed = _cfg('https://x.org/resnet50.pth')
    listed.model.backbone.init_cfg = [listed.model.backbone.init_cfg]
    listed.model.backbone.init_cfg.append(dict(type='Constant', val=0))
    assert pretrained_sources(listed) == [('model.backbone.init_cfg.0',
                                           'https://x.org/resnet50.pth')]


def test_names_resolve_through_mmengines_tables():
    from mmengine.runner.checkpoint import get_external_models
    assert resolve_url(URL) == URL
    assert resolve_url('open-mmlab://detectron2/resnet50_caffe') == (
        get_external_models()['detectron2/resnet50_caffe'])
    assert resolve_url('open-mmlab://detectron2/resnet50_caffe').startswith(
        'https://download.openmmlab.com/')
    with pytest.raises(KeyError, match='no open-mmlab:// model named'):
        resolve_url('open-mmlab://no/such_model')


def test_torchvision_names_need_torchvision(hub, offline):
    # mmengine resolves (and loads) torchvision:// through torchvision,
    # which this project does not install
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(PretrainedUnavailableError) as error:
            check_pretrained_sources(_cfg('torchvision://resnet50'))
        assert str(error.value).startswith(
            'model.backbone.init_cfg: torchvision://resnet50: mmengine '
            'loads torchvision:// names through torchvision, which is not '
            'installed')
        assert str(error.value).endswith(
            'Install torchvision, or pass a local file: --cfg-options '
            'model.backbone.init_cfg.checkpoint=/path/to/file.pth')
    else:
        from mmengine.runner.checkpoint import get_torchvision_models
        assert resolve_url('torchvision://resnet50') == (
            get_torchvision_models()['resnet50'])
    assert offline == []


def test_unreachable_fails_with_the_url_and_the_offline_fixes(hub, offline):
    cfg = _cfg(load_from='checkpoints/fcos_r50_coco.pth')
    url = resolve_url('open-mmlab://detectron2/resnet50_caffe')
    with pytest.raises(PretrainedUnavailableError) as error:
        check_pretrained_sources(cfg)
    message = str(error.value)
    assert isinstance(error.value, TrainingStopped)  # train.py: exit 1
    cached = osp.join(str(hub), osp.basename(url))
    assert message.startswith(
        f"model.backbone.init_cfg = 'open-mmlab://detectron2/resnet50_caffe'"
        f' ({url}) cannot be downloaded (gaierror: [Errno -2] Name or '
        f"service not known) and is not in torch's hub cache ({cached}).")
    assert (f'copy it to {cached}, or pass the local file: --cfg-options '
            f'model.backbone.init_cfg.checkpoint=/path/to/'
            f'{osp.basename(url)}') in message
    # fine-tuning: the weights load_from replaces need not be fetched
    assert ('--cfg-options model.backbone.init_cfg=None (in a child config: '
            'model = dict(backbone=dict(init_cfg=None)))') in message
    assert '\n' not in message  # train.py prints the first line
    assert len(offline) == 1


def test_unreachable_load_from(hub, offline):
    with pytest.raises(PretrainedUnavailableError) as error:
        check_pretrained_sources(_cfg(None, URL))
    message = str(error.value)
    assert message.startswith(f'load_from = {URL} cannot be downloaded')
    assert ('--cfg-options load_from=/path/to/fcos_coco-0a0d75a8.pth'
            in message)
    assert 'init_cfg=None' not in message
    assert offline == [('download.example.org', 443)]


def test_cached_files_are_not_fetched(hub, monkeypatch):
    def tripwire(*args, **kwargs):
        raise AssertionError('connected although the file is cached')

    monkeypatch.setattr(socket, 'create_connection', tripwire)
    url = resolve_url('open-mmlab://detectron2/resnet50_caffe')
    hub.mkdir()
    for path in (hub_cache_path(url), hub_cache_path(URL)):
        open(path, 'wb').close()
    assert check_pretrained_sources(_cfg(load_from=URL)) == [url, URL]


def test_reachable_host_and_proxy_pass(hub, monkeypatch):
    opened = []

    class Connection:

        def close(self):
            opened.append('closed')

    monkeypatch.setattr(socket, 'create_connection',
                        lambda address, timeout: Connection())
    assert check_pretrained_sources(_cfg(None, URL)) == [URL]
    assert opened == ['closed']
    monkeypatch.setenv('https_proxy', 'http://proxy:3128')
    monkeypatch.setattr(socket, 'create_connection', None)  # not called
    assert check_pretrained_sources(_cfg(None, URL)) == [URL]


def test_unknown_name(hub, offline):
    with pytest.raises(PretrainedUnavailableError) as error:
        check_pretrained_sources(_cfg('open-mmlab://no/such_model'))
    assert str(error.value) == (
        'model.backbone.init_cfg: open-mmlab://no/such_model: mmengine '
        "knows no open-mmlab:// model named 'no/such_model'. Fix the name, "
        'or pass a local file: --cfg-options '
        'model.backbone.init_cfg.checkpoint=/path/to/file.pth')
    assert offline == []
