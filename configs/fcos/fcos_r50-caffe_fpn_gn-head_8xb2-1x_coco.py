# Our earlier name of mmdet 3.3's config below, kept so that commands
# and scripts that use it still work; the settings live there (see
# configs/README.md).
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'
