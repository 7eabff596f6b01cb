"""The OpenVINO backend: export (static and dynamic) with the same
detections as PyTorch, the precision after the CPU, the user-facing paths
on model.xml (export.py, init_detector, tools/test.py, image_demo.py),
int8 through NNCF with both mAPs, and clear errors for a bad path or a
model of another config."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import mmcv
import pytest
import torch

from fcos_mm.apis import inference_detector, init_detector
from fcos_mm.deployment import (
    OpenVINODetector,
    export_openvino,
    pytorch_detections,
    resolve_precision,
)
from fcos_mm.deployment.openvino_detector import read_openvino_model

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


coco_tiny = _load('coco_tiny',
                  osp.join(REPO, 'tests', 'test_datasets', 'coco_tiny.py'))
# the tiny COCO config of the onnxruntime tool tests, shared
CONFIG = _load('onnx_tools', osp.join(REPO, 'tests', 'test_deployment',
                                      'test_onnx_tools.py')).CONFIG


@pytest.fixture(scope='module')
def ov_setup(tmp_path_factory, deploy):
    """A 2-class tiny config over 4 val images of two sizes, its checkpoint,
    and the dynamic OpenVINO export written by tools/deployment/export.py
    (verified against PyTorch on one image)."""
    tmp = tmp_path_factory.mktemp('openvino')
    data = coco_tiny.make_coco_tiny(str(tmp / 'coco'), num_train=1, num_val=4)
    for name in sorted(os.listdir(osp.join(data['root'], 'val2017')))[::2]:
        path = osp.join(data['root'], 'val2017', name)
        mmcv.imwrite(mmcv.imresize(mmcv.imread(path), (120, 80)), path)
    model_cfg = deploy.model_cfg(score_thr=0.05, max_per_img=20)
    model_cfg['bbox_head']['num_classes'] = 2
    config = str(tmp / 'tiny.py')
    with open(config, 'w') as f:
        f.write(CONFIG.format(model=model_cfg, root=data['root'] + '/',
                              val_ann=data['val_ann']))
    state = {
        key: (value[:2] if key.startswith('bbox_head.conv_cls.') else value)
        for key, value in deploy.build(
            score_thr=0.05, max_per_img=20).state_dict().items()
    }
    checkpoint = str(tmp / 'tiny.pth')
    torch.save(dict(state_dict=state), checkpoint)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join([REPO, env.get('PYTHONPATH', '')])
    out = tmp / 'ov'
    log = _run([
        'tools/deployment/export.py', config, checkpoint, '--format',
        'openvino', '--out', str(out), '--dynamic', '--precision', 'f32',
        '--verify-image', osp.join(data['root'], 'val2017', '001000.jpg')
    ], env)
    return dict(config=config, checkpoint=checkpoint,
                xml=str(out / 'model.xml'), data=data, env=env, tmp=tmp,
                log=log)


def _run(args, env):
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.parametrize('dynamic', [False, True])
def test_export_matches_pytorch(deploy, tmp_path, dynamic):
    detector = deploy.build()
    xml = export_openvino(detector, str(tmp_path / 'model.xml'),
                          shape=(64, 96), dynamic=dynamic)
    assert osp.isfile(tmp_path / 'model.bin')
    assert not [name for name in os.listdir(tmp_path) if '.tmp' in name]
    model = OpenVINODetector(xml, precision='f32')
    assert model.static_batch == (None if dynamic else 1)
    assert model.static_hw == ((None, None) if dynamic else (64, 96))
    assert model.classes == list(deploy.classes)
    assert model.metadata['num_classes'] == '3'
    # two images of a padded batch, the second smaller than the input
    inputs = torch.randn(2, 3, 64, 96, generator=torch.Generator()
                         .manual_seed(1))
    shapes = [(64, 96), (48, 72)]
    dets, labels = model.run(inputs, shapes)
    reference = pytorch_detections(detector, inputs, shapes)
    assert sum(len(ref) for ref in reference) > 0
    for index, ref in enumerate(reference):
        deploy.assert_same(ref, dets[index], labels[index], 96)


def test_precision_follows_the_cpu(ov_setup):
    assert resolve_precision('auto', {'avx2', 'amx_bf16'})[0] == 'bf16'
    assert resolve_precision('auto', {'avx512f', 'avx512_bf16'})[0] == 'bf16'
    assert resolve_precision('auto', {'avx2', 'fma'}) == (
        'f32', 'auto: the CPU has no bf16 matrix units (no amx_bf16 or '
        'avx512_bf16 flag); bf16 would be emulated, ~10x slower')
    assert resolve_precision('f32', {'amx_bf16'})[0] == 'f32'
    with pytest.raises(ValueError, match=r"precision='fp16': choose one"):
        resolve_precision('fp16')
    model = OpenVINODetector(ov_setup['xml'], precision='f32')
    hint = model.compiled.get_property('INFERENCE_PRECISION_HINT')
    assert str(hint) in ('<Type: \'float32\'>', 'f32', 'float32')
    auto = init_detector(ov_setup['config'], ov_setup['xml'])
    assert auto.precision == resolve_precision('auto')[0]


def test_export_tool_and_init_detector(ov_setup):
    assert 'openvino, dynamic batch/height/width)' in ov_setup['log']
    assert ('openvino (f32) vs PyTorch on' in ov_setup['log'])
    assert ', 0 image(s) with another count, 0 label mismatches' in (
        ov_setup['log'])
    images = [
        osp.join(ov_setup['data']['root'], 'val2017', name) for name in
        sorted(os.listdir(osp.join(ov_setup['data']['root'], 'val2017')))[:2]
    ]
    torch_model = init_detector(ov_setup['config'], ov_setup['checkpoint'])
    ov_model = init_detector(ov_setup['config'], ov_setup['xml'],
                             precision='f32')
    assert isinstance(ov_model, OpenVINODetector)
    assert ov_model.dataset_meta['classes'] == ('person', 'car')
    expected = inference_detector(torch_model, images)
    got = inference_detector(ov_model, images)
    for e, g in zip(expected, got):
        assert e.metainfo['ori_shape'] == g.metainfo['ori_shape']
        e, g = e.pred_instances, g.pred_instances
        assert len(e) == len(g) > 0
        size = max(e.bboxes.max(), 1)
        torch.testing.assert_close(g.scores, e.scores, atol=1e-4, rtol=0)
        assert (g.labels == e.labels).float().mean() > 0.9
        assert float((g.bboxes - e.bboxes).abs().max()) < 2e-3 * size


def _map(log):
    line = next(x for x in log.splitlines() if 'coco/bbox_mAP:' in x)
    return float(line.split('coco/bbox_mAP:')[1].split()[0])


def test_test_tool_and_image_demo_on_model_xml(ov_setup):
    tmp = ov_setup['tmp']
    maps = [
        _map(_run([
            'tools/test.py', ov_setup['config'], checkpoint, '--work-dir',
            str(tmp / f'work_{index}'), '--precision', 'f32'
        ], ov_setup['env']))
        for index, checkpoint in enumerate((ov_setup['checkpoint'],
                                            ov_setup['xml']))
    ]
    assert abs(maps[0] - maps[1]) < 1e-3, maps  # the third decimal
    folder = osp.join(ov_setup['data']['root'], 'val2017')
    printed = _run([
        'tools/image_demo.py', folder, ov_setup['config'], ov_setup['xml'],
        '--out-dir', str(tmp / 'drawn'), '--score-thr', '0', '--precision',
        'f32'
    ], ov_setup['env'])
    assert printed.count(' boxes -> ') == 4
    assert len(os.listdir(tmp / 'drawn')) == 4


def test_int8_export_reports_both_maps(ov_setup):
    out = ov_setup['tmp'] / 'int8'
    # calibration and the mAPs read the val set
    config = str(ov_setup['tmp'] / 'tiny_val.py')
    with open(ov_setup['config']) as f, open(config, 'w') as g:
        g.write(f.read() + '\nval_dataloader = test_dataloader\n'
                'val_evaluator = test_evaluator\n')
    log = _run([
        'tools/deployment/export.py', config,
        ov_setup['checkpoint'], '--format', 'openvino', '--out', str(out),
        '--shape', '96', '96', '--int8', '--calib-images', '2',
        '--precision', 'f32', '--max-map-drop', '-100'
    ], ov_setup['env'])
    assert 'openvino int8, static 1x3x96x96)' in log
    line = next(x for x in log.splitlines()
                if x.startswith('bbox mAP on the val set: fp '))
    fp_map = float(line.split('fp ')[1].split(',')[0])
    int8_map = float(line.split('int8 ')[1].split()[0])
    assert 0 <= int8_map <= 1 and 0 <= fp_map <= 1
    assert 'WARNING: int8 loses' in log and 'more than --max-map-drop' in log
    model = OpenVINODetector(str(out / 'model.xml'), precision='f32')
    assert model.metadata['int8'] == 'True'
    ops = read_openvino_model(str(out / 'model.xml'))[1].get_ops()
    assert sum(op.get_type_name() == 'FakeQuantize' for op in ops) >= 10


def test_bad_path_and_model_of_another_config(ov_setup, deploy, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.xml does not exist'):
        init_detector(ov_setup['config'], str(tmp_path / 'missing.xml'))
    # a 3-class export with the 2-class config
    xml = export_openvino(deploy.build(), str(tmp_path / 'three.xml'),
                          shape=(64, 64))
    with pytest.raises(ValueError, match='exported from a model with 3 '
                       'classes but the config has bbox_head.num_classes=2'):
        init_detector(ov_setup['config'], xml)
    with pytest.raises(FileNotFoundError, match='three.bin does not exist'):
        os.remove(tmp_path / 'three.bin')
        OpenVINODetector(xml)
    with pytest.raises(ValueError, match='run on the CPU'):
        init_detector(ov_setup['config'], ov_setup['xml'], device='cuda:0')
