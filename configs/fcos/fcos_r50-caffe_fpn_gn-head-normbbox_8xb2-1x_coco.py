# + regression targets divided by the level's stride (norm_on_bbox).
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'

model = dict(bbox_head=dict(norm_on_bbox=True))
