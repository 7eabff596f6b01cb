"""The exported model through the user-facing paths: pytorch2onnx.py,
init_detector / inference_detector, and tools/test.py evaluating the .onnx
file with the same mAP and the same detections as the checkpoint."""
import importlib.util
import os
import os.path as osp
import pickle
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch

from fcos_mm.apis import inference_detector, init_detector
from fcos_mm.deployment import ONNXRuntimeDetector

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
_spec = importlib.util.spec_from_file_location(
    'coco_tiny', osp.join(REPO, 'tests', 'test_datasets', 'coco_tiny.py'))
coco_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(coco_tiny)

CONFIG = '''
model = {model!r}
default_scope = 'fcos_mm'
data_root = {root!r}
metainfo = dict(classes=('person', 'car'))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                          'img_shape', 'scale_factor'))
]
test_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), test_mode=True,
                 pipeline=test_pipeline))
test_evaluator = dict(type='CocoMetric', ann_file={val_ann!r},
                      metric='bbox')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(type='LoggerHook', interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
'''


@pytest.fixture(scope='module')
def setup(tmp_path_factory, deploy):
    """A config over 4 val images of 64x64 and 120x80 px (two sizes in a
    padded batch of 2), a checkpoint and its dynamic ONNX export written
    by tools/deployment/pytorch2onnx.py."""
    tmp = tmp_path_factory.mktemp('onnx_tools')
    data = coco_tiny.make_coco_tiny(str(tmp / 'coco'), num_train=1, num_val=4)
    for name in sorted(os.listdir(osp.join(data['root'], 'val2017')))[::2]:
        path = osp.join(data['root'], 'val2017', name)
        mmcv.imwrite(mmcv.imresize(mmcv.imread(path), (120, 80)), path)
    model_cfg = deploy.model_cfg(score_thr=0.05, max_per_img=20)
    model_cfg['bbox_head']['num_classes'] = 2
    config = str(tmp / 'tiny.py')
    with open(config, 'w') as f:
        f.write(
            CONFIG.format(
                model=model_cfg,
                root=data['root'] + '/',
                val_ann=data['val_ann']))
    model = deploy.build(score_thr=0.05, max_per_img=20)
    head = model.bbox_head
    # 2 classes: keep the first two output channels of the classifier
    state = {
        k: (v[:2] if k.startswith('bbox_head.conv_cls.') else v)
        for k, v in model.state_dict().items()
    }
    assert head.num_classes == 3
    checkpoint = str(tmp / 'tiny.pth')
    torch.save(dict(state_dict=state), checkpoint)
    onnx_file = str(tmp / 'tiny.onnx')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join([REPO, env.get('PYTHONPATH', '')])
    proc = subprocess.run([
        sys.executable, 'tools/deployment/pytorch2onnx.py', config,
        checkpoint, '--out', onnx_file, '--dynamic', '--verify-image',
        osp.join(data['root'], 'val2017', '001000.jpg')
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(
        config=config,
        checkpoint=checkpoint,
        onnx=onnx_file,
        data=data,
        env=env,
        tmp=tmp,
        log=proc.stdout)


def test_export_tool_checks_and_verifies(setup):
    log = setup['log']
    assert 'opset 11, dynamic batch/height/width); onnx.checker: ok' in log
    assert ', 0 image(s) with another count, 0 label mismatches' in log


def test_inference_detector_same_detections_as_pytorch(setup):
    images = [
        osp.join(setup['data']['root'], 'val2017', name) for name in sorted(
            os.listdir(osp.join(setup['data']['root'], 'val2017')))[:2]
    ]
    torch_model = init_detector(setup['config'], setup['checkpoint'])
    onnx_model = init_detector(setup['config'], setup['onnx'])
    assert isinstance(onnx_model, ONNXRuntimeDetector)
    assert onnx_model.dataset_meta['classes'] == ('person', 'car')
    for img in (images, mmcv.imread(images[0])):
        expected = inference_detector(torch_model, img)
        got = inference_detector(onnx_model, img)
        for e, g in zip(
                expected if isinstance(expected, list) else [expected],
                got if isinstance(got, list) else [got]):
            assert e.metainfo['ori_shape'] == g.metainfo['ori_shape']
            e, g = e.pred_instances, g.pred_instances
            assert len(e) == len(g) > 0
            size = max(e.bboxes.max(), 1)
            torch.testing.assert_close(g.scores, e.scores, atol=1e-4, rtol=0)
            assert (g.labels == e.labels).float().mean() > 0.9
            assert float((g.bboxes - e.bboxes).abs().max()) < 2e-3 * size
    with pytest.raises(ValueError, match='run on the CPU'):
        init_detector(setup['config'], setup['onnx'], device='cuda:0')


def _test_tool(setup, checkpoint, name):
    out = str(setup['tmp'] / f'{name}.pkl')
    proc = subprocess.run([
        sys.executable, 'tools/test.py', setup['config'], checkpoint,
        '--work-dir',
        str(setup['tmp'] / f'work_{name}'), '--out', out
    ],
                          cwd=REPO,
                          env=setup['env'],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    line = next(x for x in log.splitlines() if 'coco/bbox_mAP:' in x)
    mean_ap = float(line.split('coco/bbox_mAP:')[1].split()[0])
    with open(out, 'rb') as f:
        return mean_ap, pickle.load(f)


def test_test_tool_evaluates_the_onnx_model(setup):
    torch_map, torch_results = _test_tool(setup, setup['checkpoint'], 'pt')
    onnx_map, onnx_results = _test_tool(setup, setup['onnx'], 'onnx')
    assert abs(onnx_map - torch_map) <= 0.002
    assert [r['img_id'] for r in onnx_results] == [
        r['img_id'] for r in torch_results
    ]
    total = 0
    for e, g in zip(torch_results, onnx_results):
        e, g = e['pred_instances'], g['pred_instances']
        assert len(e['scores']) == len(g['scores'])
        total += len(e['scores'])
        np.testing.assert_allclose(
            g['scores'].numpy(), e['scores'].numpy(), atol=1e-4)
    assert total > 0


def test_verification_input_from_an_image_and_bad_files(setup, tmp_path):
    from mmdet.structures import DetDataSample

    from fcos_mm.deployment import create_session
    from fcos_mm.deployment.onnx_export import (
        verification_inputs,
        verify_onnx,
    )
    model = init_detector(setup['config'], setup['checkpoint'])
    image = osp.join(setup['data']['root'], 'val2017', '001000.jpg')
    inputs, img_shapes = verification_inputs(model, (96, 96), image)
    # 120x80 resized to fit 96x96 (keep ratio), padded to 32
    assert img_shapes == [(64, 96)] and inputs.shape == (1, 3, 64, 96)
    diff = verify_onnx(model, setup['onnx'], inputs, img_shapes)
    assert diff['count_diff'] == diff['label_mismatch'] == 0

    runtime = ONNXRuntimeDetector(setup['onnx'])
    samples = runtime(inputs)  # no data samples: the input is the image
    assert samples[0].metainfo['img_shape'] == (64, 96)
    with pytest.raises(ValueError, match='Image 0 of the batch has no'):
        runtime(inputs, [DetDataSample()])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        create_session(str(tmp_path / 'missing.onnx'))
    other = str(tmp_path / 'other.onnx')
    torch.onnx.export(
        torch.nn.Linear(2, 2), (torch.zeros(1, 2), ),
        other,
        input_names=['x'],
        dynamo=False)
    with pytest.raises(ValueError, match='not those of an fcos_mm export'):
        ONNXRuntimeDetector(other)
