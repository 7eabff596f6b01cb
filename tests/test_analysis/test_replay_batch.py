"""Replaying a dumped bad batch names the first non-finite module, loss
terms and gradient."""
import torch
from mmengine.registry import DefaultScope
from test_benchmarks.test_benchmark_train import model_cfg

from fcos_mm.analysis.replay_batch import replay_batch
from fcos_mm.benchmarks import random_batch
from fcos_mm.engine.bad_batch import (
    load_bad_batch,
    plain_to_batch,
    save_bad_batch,
)
from fcos_mm.registry import MODELS


def _model():
    cfg = model_cfg('vanilla')
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        model = MODELS.build(cfg)
    model.init_weights()
    return model


def _dump(tmp_path):
    _, samples = random_batch(2, (64, 64), 3, 80)
    for index, sample in enumerate(samples):
        sample.set_metainfo(dict(img_path=f'img{index}.jpg', img_id=index))
    images = [torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
              for _ in samples]
    path = save_bad_batch(dict(inputs=images, data_samples=samples),
                          str(tmp_path), 3, 0)
    return path, samples


def test_replay_names_the_first_nonfinite_module_and_gradient(tmp_path):
    path, samples = _dump(tmp_path)
    dump = load_bad_batch(path)
    batch = plain_to_batch(dump)
    boxes = samples[0].gt_instances.bboxes
    assert torch.equal(batch['data_samples'][0].gt_instances.bboxes.tensor,
                       getattr(boxes, 'tensor', boxes))
    assert batch['data_samples'][1].metainfo['img_id'] == 1

    model = _model()
    healthy = replay_batch(model, dump)
    assert healthy['nonfinite_losses'] == []
    assert healthy['first_nonfinite_module'] is None
    assert healthy['first_nonfinite_grad'] is None
    assert healthy['images'] == ['img0.jpg', 'img1.jpg']

    with torch.no_grad():
        model.bbox_head.conv_reg.weight[0, 0, 0, 0] = float('nan')
    broken = replay_batch(model, dump)
    assert broken['first_nonfinite_module'] == 'bbox_head.conv_reg'
    assert 'loss_bbox' in broken['nonfinite_losses']
    assert broken['first_nonfinite_grad'] is not None
