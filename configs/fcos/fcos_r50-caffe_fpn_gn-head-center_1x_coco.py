# + center sampling: only points within 1.5 strides of a box centre are
# positives (the assigner's radius, in units of each level's stride).
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'

model = dict(
    train_cfg=dict(
        assigner=dict(center_sampling=True, center_sample_radius=1.5)))
