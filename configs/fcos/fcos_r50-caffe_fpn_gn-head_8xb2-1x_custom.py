# Template: FCOS R50-FPN 1x on your own data in COCO format.
#
# 1. Put the images and one COCO-style json per split under `data_root`:
#      my_data/annotations/train.json, my_data/annotations/val.json,
#      my_data/images/...
#    Each json's "categories" must list every category_id its annotations
#    use (an unknown id is an error naming the json and the annotation).
# 2. List the class names below, spelled as the json's category "name"s and
#    in the json's category order (labels 0 .. num_classes - 1 follow that
#    order; another order is an error naming the json).
# 3. python tools/train.py \
#        configs/fcos/fcos_r50-caffe_fpn_gn-head_8xb2-1x_custom.py
#    (add --auto-scale-lr when not training with 16 images per iteration).
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'

data_root = 'data/my_data/'
classes = ('cat', 'dog')  # replace with your class names
metainfo = dict(classes=classes)

model = dict(bbox_head=dict(num_classes=len(classes)))

train_dataloader = dict(
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

# Start from the COCO-trained FCOS instead of ImageNet weights, e.g.:
# load_from = 'work_dirs/fcos_r50-caffe_fpn_gn-head_1x_coco/epoch_12.pth'
