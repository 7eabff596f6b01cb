# Our earlier name of mmdet 3.3's config below, kept so that commands
# and scripts that use it still work; the settings live there (see
# configs/README.md).
_base_ = './fcos_x101-64x4d_fpn_gn-head_ms-640-800-2x_coco.py'
