# The full improvement set with DCNv2 in backbone stages 2-4 and as the last
# conv of the head towers (mmdet's DCN FCOS).
_base_ = ('./fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_'
          '1x_coco.py')

model = dict(
    backbone=dict(
        dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)),
    bbox_head=dict(dcn_on_last_conv=True))
