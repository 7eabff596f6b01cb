# Template: fine-tune the COCO-trained FCOS R50 ("FCOS_imprv": center
# sampling, normbbox, centeronreg, GIoU) on your own data, 2 images per
# iteration on one GPU. README.md, "Fine-tune from a COCO model", has the
# commands and what the log shows.
#
# 1. Convert a COCO checkpoint to ours (download it first; an offline
#    machine: download elsewhere and copy the .pth over):
#    * mmdet's (box AP 38.7): https://download.openmmlab.com/mmdetection/
#      v2.0/fcos/fcos_center-normbbox-centeronreg-giou_r50_caffe_fpn_gn-
#      head_1x_coco/fcos_center-normbbox-centeronreg-giou_r50_caffe_fpn_gn-
#      head_1x_coco-0a0d75a8.pth
#        python tools/model_converters/mmdet2fcos_mm.py SRC.pth \
#            checkpoints/fcos_r50_coco.pth
#    * the FCOS repository's FCOS_imprv_R_50_FPN_1x.pth:
#        python tools/model_converters/fcos_official2fcos_mm.py SRC.pth \
#            checkpoints/fcos_r50_coco.pth --coco
# 2. Data and class names as in ./fcos_r50-caffe_fpn_gn-head_8xb2-1x_custom.py
#    (COCO json per split; `classes` spelled and ordered as the json's
#    categories).
# 3. python tools/train.py configs/fcos/<this file>
#
# What changes against training from ImageNet weights:
# * load_from: every layer but the classifier (80 COCO classes, conv_cls)
#   starts from the COCO model; conv_cls of another class count is
#   re-initialised (the log says which layers, and why);
# * backbone init_cfg=None: load_from replaces the ImageNet weights anyway,
#   so they are not downloaded (offline, that download would stop the run);
# * auto_scale_lr enabled: lr 0.01 is for 16 images per iteration; with 2 it
#   becomes 0.00125 (mmengine logs the factor). Without it the first steps
#   diverge: this recipe has no gradient clipping, and 8x the lr per image
#   gave NaN losses.
_base_ = './fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_1x_coco.py'  # noqa: E501

load_from = 'checkpoints/fcos_r50_coco.pth'

data_root = 'data/my_data/'
classes = ('cat', 'dog')  # replace with your class names
metainfo = dict(classes=classes)

model = dict(
    backbone=dict(init_cfg=None),
    bbox_head=dict(num_classes=len(classes)))

train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='images/')))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

# The lr of the base (0.01) is for 16 images per iteration: scale it to the
# real total batch (GPUs x batch_size) at every start, no flag needed.
auto_scale_lr = dict(enable=True, base_batch_size=16)
