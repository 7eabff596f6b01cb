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

import fcos_mm  # noqa: F401  (installs the safe loader)
from fcos_mm.utils import UnsafeCheckpointError, load_safely


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
    import shutil

    from mmengine.runner.checkpoint import get_external_models
    source = str(tmp_path / 'source.pth')
    torch.save(dict(state_dict=ToyModel().state_dict(),
                    meta=dict(hist=np.ones(3))), source)
    fetched = []

    def fake_download(url, dst, progress=True):
        fetched.append(url)
        shutil.copy(source, dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
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
