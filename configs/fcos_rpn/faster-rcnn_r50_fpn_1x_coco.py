# The baseline of ./faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py: mmdet 3.3's
# Faster R-CNN R50-FPN 1x with its anchor-based RPN, unchanged (built in
# mmdet's scope). Here so that the comparison is one command per config:
#   python tools/train.py configs/fcos_rpn/faster-rcnn_r50_fpn_1x_coco.py
# and the same with ./faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
