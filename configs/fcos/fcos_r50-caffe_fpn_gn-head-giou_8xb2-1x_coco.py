# + GIoU loss for the box regression instead of IoU loss.
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'

model = dict(bbox_head=dict(loss_bbox=dict(type='GIoULoss', loss_weight=1.0)))
