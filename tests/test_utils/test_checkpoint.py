"""Saving, loading and resuming with torch's weights_only unpickler."""
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import DataLoader

from fcos_mm.utils import (
    UnsafeCheckpointError,
    load_safely,
    register_safe_checkpoint_loader,
)


@pytest.fixture(autouse=True, scope='module')
def safe_loader():
    """These tests use mmengine's Runner and loaders directly, so they
    install the loader as the tools and register_all_modules() do."""
    register_safe_checkpoint_loader()


class ToyModel(BaseModel):
    """y = w * x + b, trained with an L2 loss."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        pred = self.linear(torch.stack(inputs))
        if mode == 'loss':
            target = torch.stack(data_samples)
            return dict(loss=((pred - target)**2).mean())
        return pred


def _toy_loader():
    xs = torch.arange(16, dtype=torch.float32).reshape(8, 2) / 16
    data = [dict(inputs=x, data_samples=x.sum(0, keepdim=True)) for x in xs]
    return DataLoader(data, batch_size=2, shuffle=False,
                      collate_fn=lambda b: dict(
                          inputs=[d['inputs'] for d in b],
                          data_samples=[d['data_samples'] for d in b]))


def _runner(work_dir, max_iters, resume=False):
    torch.manual_seed(0)
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=_toy_loader(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        resume=resume,
        experiment_name=f'toy_{max_iters}_{resume}',
        default_scope='fcos_mm')


def test_train_save_and_resume(tmp_path):
    runner = _runner(tmp_path, max_iters=1)
    runner.train()
    ckpt_path = osp.join(tmp_path, 'iter_1.pth')
    # What mmengine's Runner writes holds numpy arrays and HistoryBuffers:
    # the objects that torch's default weights_only load refuses.
    ckpt = torch.load(ckpt_path, weights_only=True)
    scalars = ckpt['message_hub']['log_scalars']
    assert isinstance(scalars['train/loss'], HistoryBuffer)
    assert isinstance(scalars['train/loss'].data[0], np.ndarray)
    assert ckpt['meta']['iter'] == 1

    # Resume (Runner.resume -> CheckpointLoader) continues from iteration 1.
    resumed = _runner(tmp_path, max_iters=2, resume=True)
    resumed.train()
    assert resumed.iter == 2
    state = load_checkpoint(resumed.model, osp.join(tmp_path, 'iter_2.pth'))
    assert state['meta']['iter'] == 2
    losses = state['message_hub']['log_scalars']['train/loss'].data[0]
    assert len(losses) == 2  # both iterations' losses, across the resume


class _RunsCode:
    """A pickle that would create a file when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_checkpoint_whose_pickle_runs_code_is_refused(tmp_path):
    marker = str(tmp_path / 'pwned')
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, payload=_RunsCode(marker)), path)
    model = ToyModel()
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(model, path)
    message = str(err.value)
    assert path in message
    assert 'io.open' in message and 'allow-list' in message
    assert isinstance(err.value, pickle.UnpicklingError)
    assert not os.path.exists(marker)


def test_missing_checkpoint_names_the_file(tmp_path):
    path = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_safely(path)


def test_plain_state_dict_loads(tmp_path):
    model = ToyModel()
    path = str(tmp_path / 'weights.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(
        epoch=np.int64(3), hist=np.zeros(2))), path)
    other = ToyModel()
    ckpt = load_checkpoint(other, path)
    assert ckpt['meta']['epoch'] == 3
    for k, v in model.state_dict().items():
        assert torch.equal(v, other.state_dict()[k])


def test_urls_and_open_mmlab_names_are_fetched_once_and_loaded_safely(
        tmp_path, monkeypatch):
    """No network: the download is replaced by a copy of a local file."""
    from mmengine.runner.checkpoint import get_external_models
    fetched = _fake_download(
        monkeypatch, tmp_path,
        dict(state_dict=ToyModel().state_dict(), meta=dict(hist=np.ones(3))))
    from mmengine.runner.checkpoint import CheckpointLoader
    url = get_external_models()['detectron/resnet50_caffe']
    for name in ('open-mmlab://detectron/resnet50_caffe', url):
        ckpt = CheckpointLoader.load_checkpoint(name)
        assert np.array_equal(ckpt['meta']['hist'], np.ones(3))
    assert fetched == [url]  # the second load hit the cache
    cached = tmp_path / 'hub' / 'checkpoints' / osp.basename(url)
    assert cached.is_file()


class _WalksAttributes:
    """A pickle that tries getattr beyond HistoryBuffer's statistics."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_serves_only_history_buffer_statistics(tmp_path):
    path = str(tmp_path / 'walk.pth')
    torch.save(dict(x=_WalksAttributes()), path)
    with pytest.raises(pickle.UnpicklingError, match='not on the allow-list'):
        load_safely(path)


@pytest.mark.parametrize('content', [
    b'<html><body>404 Not Found</body></html>',  # a failed download
    bytes(range(256)) * 4,  # noise
])
def test_a_file_that_is_no_checkpoint_is_not_called_unsafe(tmp_path,
                                                           content):
    path = tmp_path / 'broken.pth'
    path.write_bytes(content)
    with pytest.raises(ValueError,
                       match='is not a readable torch checkpoint') as err:
        load_safely(str(path))
    assert str(path) in str(err.value)
    assert not isinstance(err.value, UnsafeCheckpointError)


def test_a_truncated_checkpoint_names_the_file(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save(dict(state_dict=ToyModel().state_dict()), str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match='corrupt or truncated') as err:
        load_safely(str(path))
    assert str(path) in str(err.value)


def _fake_download(monkeypatch, tmp_path, payload):
    """Downloads write ``payload``; returns the list of fetched URLs."""
    source = str(tmp_path / 'payload.pth')
    torch.save(payload, source)
    fetched = []

    def fake_download(url, dst, progress=True):
        import shutil
        fetched.append(url)
        shutil.copy(source, dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    return fetched


def test_a_process_on_another_node_fetches_its_own_copy(tmp_path,
                                                        monkeypatch):
    """Rank 1 of 2, first process of its node, empty node-local cache."""
    import mmengine.dist as mmdist
    from mmengine.runner.checkpoint import CheckpointLoader
    fetched = _fake_download(monkeypatch, tmp_path, dict(meta=dict(a=1)))
    monkeypatch.setattr(mmdist, 'get_dist_info', lambda: (1, 2))
    monkeypatch.setattr(mmdist, 'get_local_rank', lambda: 0)
    monkeypatch.setattr(mmdist, 'barrier', lambda: None)
    ckpt = CheckpointLoader.load_checkpoint('https://example.com/w.pth')
    assert ckpt['meta'] == dict(a=1) and fetched == [
        'https://example.com/w.pth'
    ]
    # a second process of that node waits, then finds the file
    monkeypatch.setattr(mmdist, 'get_local_rank', lambda: 1)
    CheckpointLoader.load_checkpoint('https://example.com/w.pth')
    assert len(fetched) == 1


def test_model_zoo_schemes_resolve_and_load_safely(tmp_path, monkeypatch):
    import mmengine.runner.checkpoint as mm_ckpt
    fetched = _fake_download(
        monkeypatch, tmp_path,
        dict(state_dict={'backbone.w': torch.ones(1)}, payload=np.ones(2)))
    monkeypatch.setattr(mm_ckpt, 'get_torchvision_models',
                        lambda: dict(resnet18='https://x/tv-r18.pth'))
    monkeypatch.setattr(mm_ckpt, 'get_mmcls_models',
                        lambda: dict(r18='https://x/cls-r18.pth'))
    tv = mm_ckpt.CheckpointLoader.load_checkpoint('torchvision://resnet18')
    assert np.array_equal(tv['payload'], np.ones(2))
    cls = mm_ckpt.CheckpointLoader.load_checkpoint('mmcls://r18')
    assert list(cls['state_dict']) == ['w']  # mmcls' 'backbone.' stripped
    assert fetched == ['https://x/tv-r18.pth', 'https://x/cls-r18.pth']


def test_object_store_bytes_are_unpickled_safely(tmp_path, monkeypatch):
    import io

    import mmengine.fileio as fileio
    from mmengine.runner.checkpoint import CheckpointLoader
    files = {}
    for name, obj in (('good', dict(meta=np.zeros(1))),
                      ('evil', dict(x=_RunsCode(str(tmp_path / 'pwned'))))):
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        files[f's3://bucket/{name}.pth'] = buffer.getvalue()

    class Backend:
        def get(self, filepath):
            return files[filepath]

    monkeypatch.setattr(fileio, 'get_file_backend',
                        lambda *args, **kwargs: Backend())
    good = CheckpointLoader.load_checkpoint('s3://bucket/good.pth')
    assert np.array_equal(good['meta'], np.zeros(1))
    with pytest.raises(UnsafeCheckpointError, match='s3://bucket/evil.pth'):
        CheckpointLoader.load_checkpoint('s3://bucket/evil.pth')
    assert not (tmp_path / 'pwned').exists()


def test_torch_before_2_6_gets_no_renamed_getattr(monkeypatch):
    """add_safe_globals only understands (obj, name) pairs from torch 2.6."""
    from fcos_mm.utils import checkpoint, register_safe_checkpoint_loader
    registered = []
    monkeypatch.setattr(torch.serialization, 'add_safe_globals',
                        registered.extend)
    monkeypatch.setattr(torch, '__version__', '2.5.1+cpu')
    register_safe_checkpoint_loader()
    assert HistoryBuffer in registered
    assert not any(isinstance(entry, tuple) for entry in registered)
    registered.clear()
    monkeypatch.setattr(torch, '__version__', '2.6.0')
    register_safe_checkpoint_loader()
    assert (checkpoint._history_buffer_getattr,
            'builtins.getattr') in registered
