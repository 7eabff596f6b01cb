# No center-ness branch at all: the paper's Table 4 'None' row. Scores are
# the classification scores alone, and there is no center-ness loss.
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'

model = dict(bbox_head=dict(use_centerness=False))
