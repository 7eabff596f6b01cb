"""FCOS head (Tian et al., ICCV 2019): towers, predictors and losses.

Shape shorthand
---------------
* ``N``: images in the batch; ``C``: classes (sigmoid outputs, the label
  ``C`` means background); ``G``: ground-truth boxes of one image.
* ``L``: pyramid levels; level ``l`` has an ``H_l x W_l`` grid of stride
  ``s_l``. ``P = sum_l H_l * W_l``: points of one image, levels concatenated
  level-major, row-major inside a level.
* ``cls_scores``: per level ``(N, C, H_l, W_l)`` logits; flattened
  ``(N, P, C)``. ``centernesses``: per level ``(N, 1, H_l, W_l)`` logits.
* ``bbox_preds``: per level ``(N, 4, H_l, W_l)`` distances ``(l, t, r, b)``
  from the point to the box sides, **in pixels**; flattened ``(N, P, 4)``.
* ``points``: per level ``(H_l * W_l, 2)`` coordinates ``(x, y)``.
* ``labels`` ``(N, P)`` and ``bbox_targets`` ``(N, P, 4)``: the targets,
  as in :mod:`~fcos_mm.models.task_modules.assigners.fcos_point_assigner`.

Differences from mmdet
----------------------
* Distances are pixels in training and at test time alike: with
  ``norm_on_bbox`` :meth:`FCOSHead.forward_single` multiplies
  ``ReLU(s * x)`` by the stride, where mmdet divides the targets by the
  stride in training. IoU/GIoU losses and center-ness targets are invariant
  to that common scale, so the losses equal mmdet's up to float rounding.
* mmdet's head kwargs and attributes that moved, and its legacy
  checkpoints: the mixin of :mod:`.fcos_head_compat`.
* ``forward`` takes any iterable of levels, as mmdet's does.
* ``forward`` returns ``(cls_scores, bbox_preds, centernesses)`` whatever
  the config; ``centernesses`` is None with ``use_centerness=False`` (the
  paper's Table 4 'None' row: no center-ness loss, the box loss a plain
  mean over the positives, test scores the class scores alone).
* Ground truth is checked once (:func:`check_ground_truth`), on the host
  before the step (the detector's ``prepare_ground_truth``); post-processing
  is batched over images (:class:`BatchedPredictMixin`).
* The losses are masked and weighted sums over all points, not sums over a
  gather of the positives, and the normalisers stay tensors: no host sync
  and no data-dependent shape, so ``torch.compile(fullgraph=True)`` takes
  the whole loss. Background points get a safe box (distance 1 to each
  side) so that their zero-weight terms are finite.
"""
import copy
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, Scale
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.utils import multi_apply
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import (
    ConfigType,
    InstanceList,
    MultiConfig,
    OptConfigType,
    OptInstanceList,
    reduce_mean,
)
from torch import Tensor

from fcos_mm.registry import MODELS, TASK_UTILS, fcos_mm_scope

from ..losses.utils import sync_free_loss
from ..utils import (
    check_ground_truth,
    flatten_levels,
    ground_truth_checked,
)
from .fcos_head_compat import FCOSHeadCompatMixin, build_assigner
from .fcos_postprocess import BatchedPredictMixin


def _tower(in_channels: int, feat_channels: int, num_convs: int,
           conv_cfg: OptConfigType, norm_cfg: OptConfigType,
           bias: Union[bool, str], dcn_on_last_conv: bool) -> nn.Sequential:
    """``num_convs`` 3x3 conv + norm + ReLU blocks, the last one mmcv's
    DCNv2 with ``dcn_on_last_conv``."""
    return nn.Sequential(*(
        ConvModule(
            in_channels if conv_idx == 0 else feat_channels,
            feat_channels, 3, padding=1,
            conv_cfg=dict(type='DCNv2') if dcn_on_last_conv
            and conv_idx == num_convs - 1 else conv_cfg,
            norm_cfg=norm_cfg, bias=bias) for conv_idx in range(num_convs)))


@MODELS.register_module()
class FCOSHead(FCOSHeadCompatMixin, BatchedPredictMixin, BaseDenseHead):
    """Anchor-free FCOS head, a drop-in for mmdet 3.3's ``FCOSHead``.

    Parameter names equal mmdet's (``cls_convs.N.conv``, ``conv_cls``,
    ``scales.N.scale``, ...), so its checkpoints load with ``strict=True``;
    mmdet's ``BaseDenseHead`` drives ``loss`` and ``predict``.

    Args:
        num_classes (int): Number of object classes (no background).
        in_channels (int): Channels of each input feature map.
        feat_channels (int): Channels of the tower convs. Defaults to 256.
        stacked_convs (int): Convs in each of the two towers. Defaults to 4.
        strides (Sequence[int]): Stride of each level, in pixels. Defaults
            to (4, 8, 16, 32, 64).
        dcn_on_last_conv (bool): Make the last conv of each tower mmcv's
            DCNv2. Defaults to False.
        conv_bias (bool or str): Bias of the tower convs; ``'auto'``: none
            with a norm layer. Defaults to ``'auto'``.
        norm_on_bbox (bool): Predict ``ReLU(s * x) * stride`` instead of
            ``exp(s * x)``. Defaults to False.
        centerness_on_reg (bool): Center-ness on the regression tower.
            Defaults to False.
        use_centerness (bool): Have a center-ness branch. Defaults to True.
        loss_cls (dict): Sigmoid classification loss. Defaults to focal.
        loss_bbox (dict): Loss on the decoded boxes. Defaults to IoULoss.
        loss_centerness (dict): Center-ness loss. Defaults to sigmoid BCE.
        bbox_coder (dict): Box coder. Defaults to DistancePointBBoxCoder.
        prior_generator (dict): Point generator; ``strides`` is filled in.
            Defaults to ``MlvlPointGenerator`` with offset 0.5.
        conv_cfg (dict, optional): Conv of the towers. Defaults to None.
        norm_cfg (dict, optional): Norm of the towers. Defaults to GN.
        train_cfg (dict, optional): Its ``assigner`` is built with
            ``TASK_UTILS``. Defaults to None.
        test_cfg (dict, optional): See ``predict_by_feat``. Defaults to None.
        init_cfg (dict or list[dict]): Initialisation. Defaults to normal
            convs (std 0.01), the focal prior 0.01 on ``conv_cls``.
        regress_ranges, center_sampling, center_sample_radius (optional):
            Deprecated: options of ``train_cfg.assigner``, moved there by
            :func:`~.fcos_head_compat.build_assigner`. Default to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 feat_channels: int = 256,
                 stacked_convs: int = 4,
                 strides: Sequence[int] = (4, 8, 16, 32, 64),
                 dcn_on_last_conv: bool = False,
                 conv_bias: Union[bool, str] = 'auto',
                 norm_on_bbox: bool = False,
                 centerness_on_reg: bool = False,
                 use_centerness: bool = True,
                 loss_cls: ConfigType = dict(
                     type='FocalLoss', use_sigmoid=True, gamma=2.0,
                     alpha=0.25, loss_weight=1.0),
                 loss_bbox: ConfigType = dict(type='IoULoss', loss_weight=1.0),
                 loss_centerness: ConfigType = dict(
                     type='CrossEntropyLoss', use_sigmoid=True,
                     loss_weight=1.0),
                 bbox_coder: ConfigType = dict(type='DistancePointBBoxCoder'),
                 prior_generator: ConfigType = dict(
                     type='MlvlPointGenerator', offset=0.5),
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = dict(
                     type='GN', num_groups=32, requires_grad=True),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: MultiConfig = dict(
                     type='Normal', layer='Conv2d', std=0.01,
                     override=dict(type='Normal', name='conv_cls', std=0.01,
                                   bias_prob=0.01)),
                 regress_ranges: Optional[Sequence[Tuple[float,
                                                         float]]] = None,
                 center_sampling: Optional[bool] = None,
                 center_sample_radius: Optional[float] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not loss_cls.get('use_sigmoid', False):
            raise ValueError(
                'FCOSHead predicts one sigmoid per class: loss_cls needs '
                f'use_sigmoid=True, got {loss_cls}')
        if conv_bias != 'auto' and not isinstance(conv_bias, bool):
            raise ValueError(
                f"conv_bias must be 'auto' or a bool, got {conv_bias!r}")
        self.num_classes = self.cls_out_channels = num_classes
        self._built_with = dict(
            in_channels=in_channels, feat_channels=feat_channels,
            stacked_convs=stacked_convs, strides=tuple(strides),
            dcn_on_last_conv=dcn_on_last_conv, conv_bias=conv_bias,
            conv_cfg=conv_cfg, norm_cfg=norm_cfg, use_sigmoid_cls=True)
        self._norm_on_bbox = norm_on_bbox
        self.centerness_on_reg = centerness_on_reg
        self.use_centerness = use_centerness
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        prior_generator = copy.deepcopy(prior_generator)
        if tuple(prior_generator.setdefault('strides',
                                            self.strides)) != self.strides:
            raise ValueError(
                f'FCOSHead: prior_generator strides '
                f'{tuple(prior_generator["strides"])} differ from the '
                f"head's strides {self.strides}; set them once, in the head")
        with fcos_mm_scope():
            self.loss_cls = MODELS.build(loss_cls)
            self.loss_bbox = MODELS.build(loss_bbox)
            self.loss_centerness = (
                MODELS.build(loss_centerness) if use_centerness else None)
            self.bbox_coder = TASK_UTILS.build(bbox_coder)
            self.prior_generator = TASK_UTILS.build(prior_generator)
            self.assigner = build_assigner(
                train_cfg, regress_ranges=regress_ranges,
                center_sampling=center_sampling,
                center_sample_radius=center_sample_radius)
        self.num_base_priors = self.prior_generator.num_base_priors[0]
        tower = (in_channels, feat_channels, stacked_convs, conv_cfg,
                 norm_cfg, conv_bias, dcn_on_last_conv)
        self.cls_convs = _tower(*tower)
        self.reg_convs = _tower(*tower)
        self.conv_cls = nn.Conv2d(feat_channels, num_classes, 3, padding=1)
        self.conv_reg = nn.Conv2d(feat_channels, 4, 3, padding=1)
        if use_centerness:
            self.conv_centerness = nn.Conv2d(feat_channels, 1, 3, padding=1)
        self.scales = nn.ModuleList([Scale(1.0) for _ in self.strides])

    def forward(
        self, x: Iterable[Tensor]
    ) -> Tuple[List[Tensor], List[Tensor], Optional[List[Tensor]]]:
        """Run the head on every level.

        Args:
            x (Iterable[Tensor]): Per level ``(N, in_channels, H_l, W_l)``;
                any iterable (a generator too), read once.

        Returns:
            tuple: ``cls_scores``, ``bbox_preds``, ``centernesses`` or None.
        """
        x = tuple(x)
        if len(x) != len(self.strides):
            raise ValueError(
                f'FCOSHead got {len(x)} feature maps for '
                f'{len(self.strides)} strides {self.strides}')
        cls_scores, bbox_preds, centernesses = multi_apply(
            self.forward_single, x, self.scales, self.strides)
        return (cls_scores, bbox_preds,
                centernesses if self.use_centerness else None)

    def forward_single(self, x: Tensor, scale: Scale,
                       stride: int) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """One level of :meth:`forward`, with its regression ``scale`` and
        ``stride``; the distances are float32."""
        cls_feat = self.cls_convs(x)
        reg_feat = self.reg_convs(x)
        cls_score = self.conv_cls(cls_feat)
        # float32 so exp cannot overflow under fp16/bf16 autocast
        bbox_pred = scale(self.conv_reg(reg_feat)).float()
        if self.norm_on_bbox:
            # clamp, not F.relu: an in-place relu breaks autograd here
            bbox_pred = bbox_pred.clamp(min=0) * stride
        else:
            bbox_pred = bbox_pred.exp()
        centerness = None
        if self.use_centerness:
            centerness = self.conv_centerness(
                reg_feat if self.centerness_on_reg else cls_feat)
        return cls_score, bbox_pred, centerness

    def loss_by_feat(
        self,
        cls_scores: List[Tensor],
        bbox_preds: List[Tensor],
        centernesses: Optional[List[Tensor]],
        batch_gt_instances: InstanceList,
        batch_img_metas: List[dict],
        batch_gt_instances_ignore: OptInstanceList = None
    ) -> Dict[str, Tensor]:
        """The losses, float32 under autocast too: classification (all
        points) and center-ness (positives) over the number of positives,
        the box loss over the positives weighted by their center-ness targets
        and divided by their sum (or their number); divisors rank-averaged.

        Args:
            cls_scores (list[Tensor]): Per level ``(N, C, H_l, W_l)``.
            bbox_preds (list[Tensor]): Per level ``(N, 4, H_l, W_l)``.
            centernesses (list[Tensor], optional): Per level
                ``(N, 1, H_l, W_l)``; None without center-ness.
            batch_gt_instances (list[InstanceData]): ``bboxes`` ``(G, 4)``
                and ``labels`` ``(G,)`` of each image.
            batch_img_metas (list[dict]): Meta information of each image.
            batch_gt_instances_ignore (list[InstanceData], optional): Not
                used, as in mmdet's FCOS. Defaults to None.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox`` (and
            ``loss_centerness``).
        """
        if len(cls_scores) != len(bbox_preds):
            raise ValueError('cls_scores and bbox_preds differ in levels')
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        mlvl_points = self.prior_generator.grid_priors(
            featmap_sizes, dtype=torch.float32, device=cls_scores[0].device)
        labels, bbox_targets = self.get_targets(
            mlvl_points, batch_gt_instances, batch_img_metas,
            [tuple(size) for size in featmap_sizes])
        points = torch.cat(mlvl_points)  # (P, 2)
        flat_cls_scores = flatten_levels(cls_scores).float()  # (N, P, C)
        flat_bbox_preds = flatten_levels(bbox_preds).float()  # (N, P, 4)

        # Masks and weights over all N * P points instead of a gather of
        # the positives: no nonzero, no read-back, static shapes.
        pos = labels < self.num_classes  # (N, P)
        num_pos = reduce_mean(pos.sum().float()).clamp(min=1.0)
        loss_cls = self.loss_cls(
            flat_cls_scores.reshape(-1, self.cls_out_channels),  # (N * P, C)
            labels.reshape(-1),  # (N * P,)
            avg_factor=num_pos)

        # background points get a safe box (distance 1 to each side) on both
        # sides: a finite loss of zero weight, so a zero gradient
        pos_box = pos[..., None]  # (N, P, 1)
        safe_preds = torch.where(pos_box, flat_bbox_preds, 1.0).reshape(-1, 4)
        safe_targets = torch.where(pos_box, bbox_targets, 1.0).reshape(-1, 4)
        pos = pos.reshape(-1)  # (N * P,)
        all_points = points.repeat(flat_cls_scores.size(0), 1)  # (N * P, 2)
        losses = dict(loss_cls=loss_cls)
        if self.use_centerness:
            # (N * P,), zero at background points
            centerness_targets = torch.where(
                pos, self.centerness_target(safe_targets), 0.0)
            bbox_weight = centerness_targets
            # every rank reduces, whether or not it has positives
            bbox_denorm = reduce_mean(
                centerness_targets.sum().detach()).clamp(min=1e-6)
        else:
            bbox_weight, bbox_denorm = pos.float(), num_pos
        decode = self.bbox_coder.decode
        losses['loss_bbox'] = sync_free_loss(
            self.loss_bbox,
            get_box_tensor(decode(all_points, safe_preds)),
            get_box_tensor(decode(all_points, safe_targets)),
            weight=bbox_weight,
            avg_factor=bbox_denorm)
        if self.use_centerness:
            losses['loss_centerness'] = self.loss_centerness(
                flatten_levels(centernesses).float().reshape(-1),  # (N * P,)
                centerness_targets,
                weight=pos.float(),
                avg_factor=num_pos)
        return losses

    @torch.no_grad()
    def get_targets(
        self,
        points: List[Tensor],
        batch_gt_instances: InstanceList,
        batch_img_metas: Optional[List[dict]] = None,
        featmap_sizes: Optional[Sequence[Tuple[int, int]]] = None
    ) -> Tuple[Tensor, Tensor]:
        """Check the ground truth (unless every image is flagged
        :data:`~fcos_mm.models.utils.GT_CHECKED`: checked on the host before
        the step, see :func:`~fcos_mm.models.utils.prepare_ground_truth`),
        then assign every point of every image.

        Args:
            points (list[Tensor]): Per level ``(H_l * W_l, 2)`` points.
            batch_gt_instances (list[InstanceData]): ``bboxes`` and
                ``labels`` of each image.
            batch_img_metas (list[dict], optional): To name an image with bad
                ground truth. Defaults to None.
            featmap_sizes (Sequence[tuple[int, int]], optional): Per level
                ``(H_l, W_l)``, see the assigner. Defaults to None.

        Returns:
            tuple[Tensor, Tensor]: ``labels`` and ``bbox_targets``.
        """
        batch_gt_bboxes = [get_box_tensor(gt.bboxes)
                           for gt in batch_gt_instances]
        batch_gt_labels = [gt.labels for gt in batch_gt_instances]
        if not ground_truth_checked(batch_img_metas):
            check_ground_truth(batch_gt_bboxes, batch_gt_labels,
                               self.num_classes, batch_img_metas)
        result = self.assigner.assign_batch(
            points, self.strides, batch_gt_bboxes, batch_gt_labels,
            self.num_classes, featmap_sizes=featmap_sizes, validate=False)
        return result.labels, result.bbox_targets

    @staticmethod
    def centerness_target(bbox_targets: Tensor) -> Tensor:
        """``(n,)`` center-ness ``sqrt(min(l, r) / max(l, r) * min(t, b) /
        max(t, b))`` of ``(n, 4)`` positive targets (background ones may
        divide by zero)."""
        left_right = bbox_targets[:, [0, 2]]
        top_bottom = bbox_targets[:, [1, 3]]
        return torch.sqrt(
            (left_right.min(dim=-1)[0] / left_right.max(dim=-1)[0]) *
            (top_bottom.min(dim=-1)[0] / top_bottom.max(dim=-1)[0]))
