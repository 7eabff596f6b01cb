"""Fine-tuning from a COCO model, end to end with the README's commands
("Fine-tune from a COCO model") on tiny data: an 80-class checkpoint saved
as mmdet saves it -> tools/model_converters/mmdet2fcos_mm.py -> a 1-class
fine-tune of the template config with load_from (tools/train.py) ->
tools/test.py. The model is the template's at 1/8 width (ResNet-18 layout,
16-channel FPN and head); the network is cut off in every subprocess (a
sitecustomize that makes every connection fail as offline), so nothing can
be downloaded, and a remote pretrained backbone then stops training before
the model is built."""
import os.path as osp

import torch
from mmengine.config import Config

from fcos_mm.registry import MODELS
from fcos_mm.utils import load_safely

TEMPLATE = ('configs/fcos/fcos_r50-caffe_fpn_gn-head-center-normbbox-'
            'centeronreg-giou_1xb2-1x_finetune_custom.py')
COCO_CLASSES = tuple(f'coco_class_{i}' for i in range(80))

# The template at 1/8 width on the tiny set (the README's data layout);
# the rest (load_from, init_cfg=None, auto_scale_lr, schedule) as it is.
CHILD = '''
_base_ = {template!r}
load_from = {load_from!r}
data_root = {root!r}
classes = ('person', )
metainfo = dict(classes=classes)
model = dict(
    backbone=dict(depth=18, base_channels=8{backbone_init}),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    bbox_head=dict(
        num_classes=1, in_channels=16, feat_channels=16, stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                          'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img='train2017/'), pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img='val2017/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False,
                        begin=0, end=1)]
default_hooks = dict(logger=dict(interval=1))
'''

# Every connection fails, as on a machine without network.
OFFLINE = '''
import socket


def _offline(*args, **kwargs):
    raise socket.gaierror(-2, 'Name or service not known')


socket.create_connection = _offline
socket.getaddrinfo = _offline
'''


def _one_class_set(root, coco_helper):
    """2 train and 2 val images; only the 'person' boxes, one category."""
    import json
    paths = coco_helper.make_coco_tiny(root)
    for split, src in (('train', paths['train_ann']),
                       ('val', paths['val_ann'])):
        with open(src) as f:
            data = json.load(f)
        coco_helper.write_json(
            osp.join(root, 'annotations', f'{split}.json'), data['images'],
            [a for a in data['annotations'] if a['category_id'] == 1],
            categories=((1, 'person'), ))
    return root + '/'


def _write_child(tmp_path, name, root, load_from, backbone_init=''):
    path = tmp_path / name
    path.write_text(
        CHILD.format(
            template=osp.join(osp.dirname(osp.dirname(osp.dirname(
                osp.abspath(__file__)))), TEMPLATE),
            load_from=load_from,
            root=root,
            backbone_init=backbone_init))
    return str(path)


def _mmdet_style_coco_checkpoint(config, path):
    """The tiny model with an 80-class head, randomised, saved with the
    meta, optimizer and message hub keys mmdet's Runner writes."""
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(config)
    cfg.model.bbox_head.num_classes = 80
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        model = MODELS.build(cfg.model)
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn_like(param) * 0.05)
    state_dict = model.state_dict()
    torch.save(
        dict(
            meta=dict(
                dataset_meta=dict(classes=COCO_CLASSES),
                mmdet_version='3.3.0',
                epoch=12,
                iter=90000),
            state_dict=state_dict,
            optimizer=dict(state={}, param_groups=[dict(lr=0.0001)])), path)
    return state_dict


def test_coco_checkpoint_to_one_class_fine_tune_to_test(
        tmp_path, coco_tiny_root, coco_helper, tools, tool_env):
    (tmp_path / 'sitecustomize.py').write_text(OFFLINE)
    tool_env['TORCH_HOME'] = str(tmp_path / 'torch_home')
    root = _one_class_set(str(tmp_path / 'my_data'), coco_helper)
    converted = str(tmp_path / 'checkpoints' / 'fcos_r50_coco.pth')
    config = _write_child(tmp_path, 'finetune.py', root, converted)
    source = _mmdet_style_coco_checkpoint(config, str(tmp_path / 'coco.pth'))

    # 1. convert (README: mmdet2fcos_mm.py SRC.pth checkpoints/...)
    proc = tools.run([
        tools.python, 'tools/model_converters/mmdet2fcos_mm.py',
        str(tmp_path / 'coco.pth'), converted
    ], tool_env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    # 2. fine-tune (README: tools/train.py CONFIG)
    work_dir = str(tmp_path / 'work')
    proc = tools.run(
        [tools.python, 'tools/train.py', config, '--work-dir', work_dir],
        tool_env)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert f'Load checkpoint from {converted}' in log
    # auto_scale_lr on: 1 process x 2 images against the recipe's 16
    assert ('LR is set based on batch size of 16 and the current batch size '
            'is 2. Scaling the original LR by 0.125.') in log
    assert 'lr: 1.2500e-03' in log
    tuned = load_safely(osp.join(work_dir, 'epoch_1.pth'),
                        'cpu')['state_dict']
    # the frozen stem and first stage keep the COCO weights exactly: loaded
    for key in ('backbone.conv1.weight', 'backbone.layer1.0.conv1.weight'):
        assert torch.equal(tuned[key], source[key]), key
    # the 80-class classifier could not be loaded: a new 1-class one
    assert source['bbox_head.conv_cls.weight'].shape[0] == 80
    assert tuned['bbox_head.conv_cls.weight'].shape[0] == 1
    # everything else of the head came from the checkpoint (and trained)
    assert tuned['bbox_head.conv_reg.weight'].shape == source[
        'bbox_head.conv_reg.weight'].shape

    # 3. test (README: tools/test.py CONFIG work_dirs/.../epoch_12.pth)
    proc = tools.run([
        tools.python, 'tools/test.py', config,
        osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir
    ], tool_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'coco/bbox_mAP:' in proc.stdout + proc.stderr


def test_remote_backbone_weights_stop_before_the_model_is_built(
        tmp_path, coco_tiny_root, coco_helper, tools, tool_env):
    # the template without its init_cfg=None line: the ImageNet weights of
    # the COCO recipe would be downloaded although load_from replaces them
    (tmp_path / 'sitecustomize.py').write_text(OFFLINE)
    tool_env['TORCH_HOME'] = str(tmp_path / 'torch_home')
    root = _one_class_set(str(tmp_path / 'my_data'), coco_helper)
    config = _write_child(
        tmp_path, 'finetune_online.py', root, 'checkpoints/coco.pth',
        backbone_init=(", init_cfg=dict(_delete_=True, type='Pretrained', "
                       "checkpoint="
                       "'open-mmlab://detectron2/resnet50_caffe')"))
    work_dir = str(tmp_path / 'work')
    proc = tools.run(
        [tools.python, 'tools/train.py', config, '--work-dir', work_dir],
        tool_env)
    assert proc.returncode == 1
    cache = osp.join(str(tmp_path / 'torch_home'), 'hub', 'checkpoints')
    url = ('https://download.openmmlab.com/pretrain/third_party/'
           'resnet50_msra-5891d200.pth')
    assert proc.stderr.strip().splitlines()[-1] == (
        "fcos_mm: model.backbone.init_cfg = 'open-mmlab://detectron2/"
        f"resnet50_caffe' ({url}) cannot be downloaded (gaierror: [Errno -2] "
        "Name or service not known) and is not in torch's hub cache ("
        f'{cache}/resnet50_msra-5891d200.pth). Offline: download {url} on '
        f'a machine with internet and copy it to {cache}/'
        'resnet50_msra-5891d200.pth, or pass the local file: --cfg-options '
        'model.backbone.init_cfg.checkpoint=/path/to/'
        'resnet50_msra-5891d200.pth; or, since load_from replaces these '
        'weights anyway, skip them: --cfg-options model.backbone.init_cfg='
        'None (in a child config: model = dict(backbone=dict(init_cfg='
        'None))).')
    # stopped before the Runner: no log, no work dir
    assert 'mmengine - INFO' not in proc.stdout + proc.stderr
    assert not osp.exists(work_dir)
