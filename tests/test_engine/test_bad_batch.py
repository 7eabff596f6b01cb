"""A skipped step's batch saved by the guard's hook and loaded back for the
replay (fcos_mm.engine.bad_batch): same images, metainfo and ground truth,
plain enough for weights_only loading, written atomically."""
import os

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData

from fcos_mm.engine.bad_batch import (
    bad_batch_path,
    load_bad_batch,
    plain_to_batch,
    save_bad_batch,
)


def _batch():
    sample = DetDataSample(metainfo=dict(
        img_path='a.jpg', img_id=np.int64(7), img_shape=(32, 48),
        scale_factor=(1.5, 2.0), flip=False))
    sample.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.tensor([[1., 2., 10., 12.]])),
        labels=torch.tensor([2]))
    sample.ignored_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.zeros((0, 4))),
        labels=torch.zeros(0, dtype=torch.long))
    images = [torch.arange(3 * 32 * 48, dtype=torch.uint8).view(3, 32, 48)]
    return dict(inputs=images, data_samples=[sample])


def test_saved_batch_loads_back_as_the_loader_gave_it(tmp_path):
    path = save_bad_batch(_batch(), str(tmp_path), 12, 1)
    assert path == bad_batch_path(str(tmp_path), 12, 1)
    assert path == str(tmp_path / 'bad_batches' / 'iter_12_rank1.pth')
    # atomic: no temporary file left beside it
    assert os.listdir(tmp_path / 'bad_batches') == ['iter_12_rank1.pth']
    # plain: the weights_only unpickler takes it
    plain = torch.load(path, weights_only=True)
    assert (plain['iter'], plain['rank']) == (12, 1)
    assert plain['data_samples'][0]['metainfo']['img_id'] == 7

    dump = load_bad_batch(path)
    batch = plain_to_batch(dump)
    assert torch.equal(batch['inputs'][0], _batch()['inputs'][0])
    sample = batch['data_samples'][0]
    assert sample.metainfo['img_shape'] == (32, 48)
    assert sample.metainfo['scale_factor'] == (1.5, 2.0)
    assert sample.metainfo['flip'] is False
    assert isinstance(sample.gt_instances.bboxes, HorizontalBoxes)
    assert sample.gt_instances.bboxes.tensor.tolist() == [[1, 2, 10, 12]]
    assert sample.gt_instances.labels.tolist() == [2]
    assert sample.ignored_instances.bboxes.tensor.shape == (0, 4)
