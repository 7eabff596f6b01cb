"""The host-side ground-truth step of a training batch: check, flag, pad."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData

from fcos_mm.models.utils import (
    GT_CHECKED,
    ground_truth_checked,
    gt_bucket,
    prepare_ground_truth,
)


def sample(boxes, labels, path):
    data_sample = DetDataSample(metainfo=dict(img_path=path))
    data_sample.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.tensor(boxes).view(-1, 4)),
        labels=torch.tensor(labels, dtype=torch.long))
    return data_sample


def test_gt_bucket_is_the_next_power_of_two_from_the_minimum():
    assert [gt_bucket(n) for n in (0, 1, 8, 9, 16, 17, 300)] == [
        8, 8, 8, 16, 16, 32, 512]
    assert gt_bucket(3, min_bucket=1) == 4


def test_prepare_flags_and_pads_to_the_batch_bucket():
    samples = [sample([[0., 0., 4., 4.]] * 3, [0, 1, 2], 'a.jpg'),
               sample([[1., 2., 5., 6.]] * 9, [1] * 9, 'b.jpg'),
               sample([], [], 'c.jpg')]
    assert not ground_truth_checked([s.metainfo for s in samples])
    prepare_ground_truth(samples, 3, pad_to_bucket=True)
    assert ground_truth_checked([s.metainfo for s in samples])
    for s, num in zip(samples, (3, 9, 0)):
        assert s.metainfo[GT_CHECKED] is True
        assert s.gt_instances.bboxes.shape == (16, 4)  # a tensor now
        assert s.gt_instances.labels[num:].eq(-1).all()
        assert s.gt_instances.bboxes[num:].eq(0).all()
    assert s.gt_instances.labels.shape == (16, )
    assert samples[1].gt_instances.labels[:9].eq(1).all()
    # padding a padded batch again (unchecked: padding fails the check)
    # changes nothing
    before = [s.gt_instances.bboxes for s in samples]
    prepare_ground_truth(samples, 3, pad_to_bucket=True, check=False)
    for s, boxes in zip(samples, before):
        assert torch.equal(s.gt_instances.bboxes, boxes)
    with pytest.raises(ValueError, match=r'gt_bboxes\[3\] = \[0.0, 0.0, '
                       r'0.0, 0.0\] with gt_labels\[3\] = -1 is degenerate'):
        prepare_ground_truth(samples, 3, pad_to_bucket=True)


def test_prepare_without_padding_keeps_the_boxes():
    samples = [sample([[0., 0., 4., 4.]], [0], 'a.jpg')]
    prepare_ground_truth(samples, 3)
    assert isinstance(samples[0].gt_instances.bboxes, HorizontalBoxes)
    assert len(samples[0].gt_instances) == 1
    assert not ground_truth_checked([]) and not ground_truth_checked(None)


def test_prepare_names_the_image_and_the_box():
    samples = [sample([[0., 0., 4., 4.]], [0], 'a.jpg'),
               sample([[0., 0., 4., 4.], [3., 3., 3., 9.]], [0, 1], 'b.jpg')]
    with pytest.raises(ValueError) as info:
        prepare_ground_truth(samples, 3, pad_to_bucket=True)
    text = str(info.value)
    assert "image 'b.jpg' (batch index 1)" in text
    assert 'gt_bboxes[1] = [3.0, 3.0, 3.0, 9.0]' in text
    assert 'degenerate' in text
    assert GT_CHECKED not in samples[0].metainfo  # nothing flagged
