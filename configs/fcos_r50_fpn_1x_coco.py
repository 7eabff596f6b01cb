# Short name for the paper's R50-FPN 1x setting; the settings live in
# configs/fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py (see
# configs/README.md for why the alias points there and not the other way).
_base_ = './fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
