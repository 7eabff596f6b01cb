# + center-ness predicted from the regression tower, not the classification
# tower.
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'

model = dict(bbox_head=dict(centerness_on_reg=True))
