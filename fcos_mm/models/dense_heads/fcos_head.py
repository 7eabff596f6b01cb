"""FCOS head (Tian et al., ICCV 2019): layers, losses and post-processing.

Shape shorthand
---------------
* ``N``: images in the batch; ``C``: classes (sigmoid outputs, the label
  ``C`` means background); ``G``: ground-truth boxes of one image.
* ``L``: pyramid levels; level ``l`` has an ``H_l x W_l`` grid of stride
  ``s_l``. ``P = sum_l H_l * W_l``: points of one image, levels concatenated
  level-major, row-major inside a level.
* ``K``: candidates of one image kept for NMS (at most ``nms_pre`` per
  level).

Tensor names
------------
* ``cls_scores``: per level ``(N, C, H_l, W_l)`` logits; flattened
  ``(N, P, C)``.
* ``bbox_preds``: per level ``(N, 4, H_l, W_l)`` distances ``(l, t, r, b)``
  from the point to the box sides, **in pixels**; flattened ``(N, P, 4)``.
* ``centernesses``: per level ``(N, 1, H_l, W_l)`` logits; flattened
  ``(N, P)``.
* ``points``: per level ``(H_l * W_l, 2)`` point coordinates ``(x, y)``
  (``(i + 0.5) * s_l`` with the default point generator); ``(P, 2)`` once
  concatenated.
* ``labels``: ``(N, P)`` class of each point, ``C`` for background.
* ``bbox_targets``: ``(N, P, 4)`` ``(l, t, r, b)`` pixel distances from each
  point to its assigned box.

Units
-----
Distances are pixels in training and at test time alike: with
``norm_on_bbox`` the head predicts ``ReLU(s * x)`` in units of the stride and
multiplies by the stride in :meth:`FCOSHead.forward_single`, the one place
where strides enter the box computation. mmdet instead divides the targets
by the stride in training and multiplies predictions only in eval mode. The
IoU/GIoU losses and the center-ness targets are invariant to that common
scale, so the losses equal mmdet's up to float rounding.

Which point learns which box is decided by the assigner
(``train_cfg.assigner``, ``FCOSPointAssigner`` by default), not by the head.
"""
import copy
import inspect
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, Scale
from mmcv.ops import batched_nms
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import (
    ConfigType,
    InstanceList,
    MultiConfig,
    OptConfigType,
    OptInstanceList,
    reduce_mean,
)
from mmengine.structures import InstanceData
from torch import Tensor

from fcos_mm.registry import MODELS, TASK_UTILS

from ..task_modules.assigners.fcos_point_assigner import FCOS_REGRESS_RANGES
from ..utils import fcos_mm_scope, flatten_levels

#: The assigner built when ``train_cfg`` names none: FCOS's ranges, no
#: center sampling.
DEFAULT_ASSIGNER = dict(
    type='FCOSPointAssigner',
    regress_ranges=FCOS_REGRESS_RANGES,
    center_sampling=False,
    center_sample_radius=1.5)

#: Head kwargs of mmdet's FCOSHead that belong to the assigner here.
LEGACY_ASSIGNER_KEYS = ('regress_ranges', 'center_sampling',
                        'center_sample_radius')

#: Parameter names of the checkpoints of mmdet < 2.x (``fcos_cls`` ...).
_LEGACY_PREDICTORS = {
    'fcos_cls': 'conv_cls',
    'fcos_reg': 'conv_reg',
    'fcos_centerness': 'conv_centerness'
}


@MODELS.register_module()
class FCOSHead(BaseDenseHead):
    """Anchor-free FCOS head, a drop-in for mmdet 3.3's ``FCOSHead``.

    Parameter names equal mmdet's (``cls_convs.N.conv``, ``cls_convs.N.gn``,
    ``reg_convs...``, ``conv_cls``, ``conv_reg``, ``conv_centerness``,
    ``scales.N.scale``), so mmdet's FCOS checkpoints load with
    ``strict=True``. A config written for mmdet's head works after moving
    ``regress_ranges``, ``center_sampling`` and ``center_sample_radius`` into
    ``train_cfg.assigner`` (given to the head they still work, with a
    DeprecationWarning).

    Without center-ness (``use_centerness=False``, the 'None' row of the
    paper's Table 4) there is no ``conv_centerness`` and no center-ness loss,
    the regression loss is a plain mean over the positives (``avg_factor``
    the number of positives instead of the center-ness-target sum), and the
    test scores are the classification scores alone.

    Args:
        num_classes (int): Number of object classes (no background).
        in_channels (int): Channels of each input feature map.
        feat_channels (int): Channels of the tower convs. Defaults to 256.
        stacked_convs (int): Convs in each of the two towers.
            Defaults to 4.
        strides (Sequence[int]): Stride of each level, in pixels.
            Defaults to (4, 8, 16, 32, 64) as mmdet's (FCOS configs give
            (8, 16, 32, 64, 128)).
        dcn_on_last_conv (bool): Make the last conv of each tower a
            modulated deformable conv (mmcv's DCNv2). Defaults to False.
        conv_bias (bool or str): Bias of the tower convs; ``'auto'`` means
            no bias when there is a norm layer. Defaults to ``'auto'``.
        norm_on_bbox (bool): Predict ``ReLU(s * x) * stride`` instead of
            ``exp(s * x)``. Defaults to False.
        centerness_on_reg (bool): Put center-ness on the regression tower
            instead of the classification tower. Defaults to False.
        use_centerness (bool): Whether there is a center-ness branch.
            Defaults to True.
        loss_cls (dict): Classification loss, sigmoid-based.
            Defaults to a focal loss (gamma 2, alpha 0.25).
        loss_bbox (dict): Loss on the decoded boxes (pixels). Defaults to
            IoULoss. IoU-type losses are scale-invariant, so they equal
            mmdet's under ``norm_on_bbox`` too; a distance loss such as L1
            would see pixels where mmdet's sees strides.
        loss_centerness (dict): Center-ness loss. Defaults to a binary
            cross-entropy on logits.
        bbox_coder (dict): Decodes distances at points into boxes.
            Defaults to ``DistancePointBBoxCoder`` (clips to the image).
        prior_generator (dict): Point generator; ``strides`` is filled in.
            Defaults to ``MlvlPointGenerator`` with offset 0.5.
        conv_cfg (dict, optional): Conv layer config of the towers.
            Defaults to None.
        norm_cfg (dict, optional): Norm layer config of the towers.
            Defaults to GN with 32 groups.
        train_cfg (dict, optional): Training config; its ``assigner`` is
            built with ``TASK_UTILS`` (:data:`DEFAULT_ASSIGNER` when absent).
            Defaults to None.
        test_cfg (dict, optional): Post-processing config: ``nms_pre``,
            ``score_thr``, ``min_bbox_size``, ``nms``, ``max_per_img``.
            Defaults to None.
        init_cfg (dict or list[dict]): Initialisation; by default normal
            (std 0.01) convs and the focal prior (probability 0.01) on the
            classification bias.
        regress_ranges (Sequence[Tuple[float, float]], optional):
            Deprecated, goes into ``train_cfg.assigner``. Defaults to None.
        center_sampling (bool, optional): Deprecated, as above.
            Defaults to None.
        center_sample_radius (float, optional): Deprecated, as above.
            Defaults to None.
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
                     type='FocalLoss',
                     use_sigmoid=True,
                     gamma=2.0,
                     alpha=0.25,
                     loss_weight=1.0),
                 loss_bbox: ConfigType = dict(type='IoULoss', loss_weight=1.0),
                 loss_centerness: ConfigType = dict(
                     type='CrossEntropyLoss',
                     use_sigmoid=True,
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
                     type='Normal',
                     layer='Conv2d',
                     std=0.01,
                     override=dict(
                         type='Normal',
                         name='conv_cls',
                         std=0.01,
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
        self.num_classes = num_classes
        self.use_sigmoid_cls = True
        self.cls_out_channels = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.strides = tuple(strides)
        self.dcn_on_last_conv = dcn_on_last_conv
        self.conv_bias = conv_bias
        self.norm_on_bbox = norm_on_bbox
        self.centerness_on_reg = centerness_on_reg
        self.use_centerness = use_centerness
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

        prior_generator = copy.deepcopy(prior_generator)
        if tuple(prior_generator.setdefault('strides',
                                            self.strides)) != self.strides:
            raise ValueError(
                f'FCOSHead: prior_generator strides '
                f'{tuple(prior_generator["strides"])} differ from the '
                f'head\'s strides {self.strides}; set them once, in the head')
        prior_generator['strides'] = self.strides
        with fcos_mm_scope():
            self.loss_cls = MODELS.build(loss_cls)
            self.loss_bbox = MODELS.build(loss_bbox)
            self.loss_centerness = (
                MODELS.build(loss_centerness) if use_centerness else None)
            self.bbox_coder = TASK_UTILS.build(bbox_coder)
            self.prior_generator = TASK_UTILS.build(prior_generator)
            self.assigner = self._build_assigner(
                train_cfg,
                dict(
                    regress_ranges=regress_ranges,
                    center_sampling=center_sampling,
                    center_sample_radius=center_sample_radius))
        # one point per location, in the terms of mmdet's anchor heads
        self.num_base_priors = self.prior_generator.num_base_priors[0]
        self._init_layers()

    # ----------------------------------------------------------- building
    @staticmethod
    def _build_assigner(train_cfg: OptConfigType, legacy: dict) -> object:
        """Build ``train_cfg.assigner``, filling the deprecated head kwargs.

        Raises:
            ValueError: A deprecated kwarg is also set in the assigner
                config, or the assigner lacks the point-assigner interface.
        """
        given = train_cfg.get('assigner') if train_cfg else None
        cfg = copy.deepcopy(given) if given else copy.deepcopy(
            DEFAULT_ASSIGNER)
        legacy = {k: v for k, v in legacy.items() if v is not None}
        if legacy:
            clash = sorted(k for k in legacy if given and k in given)
            if clash:
                raise ValueError(
                    f'FCOSHead: {", ".join(clash)} given both as head '
                    'kwargs and in train_cfg.assigner; keep them in '
                    'train_cfg.assigner only')
            warnings.warn(
                f'FCOSHead: {", ".join(sorted(legacy))} as head kwargs are '
                'deprecated; set them in train_cfg.assigner',
                DeprecationWarning)
            cfg.update(legacy)
        assigner = TASK_UTILS.build(cfg)
        assign = getattr(assigner, 'assign_batch', None)
        params = inspect.signature(assign).parameters if assign else {}
        if not {'points', 'strides', 'batch_gt_bboxes'} <= set(params):
            raise ValueError(
                f'FCOSHead: train_cfg.assigner must be a point assigner '
                f'with assign_batch(points, strides, batch_gt_bboxes, '
                f'batch_gt_labels, num_classes, featmap_sizes), such as '
                f'FCOSPointAssigner; got '
                f'{type(assigner).__name__}. (mmdet 2.x FCOS configs carried '
                f'an unused MaxIoUAssigner in train_cfg: replace it.)')
        return assigner

    def _init_layers(self) -> None:
        """Build the towers, the predictors and the per-level scales."""
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        self.conv_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1)
        self.conv_reg = nn.Conv2d(self.feat_channels, 4, 3, padding=1)
        if self.use_centerness:
            self.conv_centerness = nn.Conv2d(
                self.feat_channels, 1, 3, padding=1)
        self.scales = nn.ModuleList([Scale(1.0) for _ in self.strides])

    def _tower(self) -> nn.ModuleList:
        """``stacked_convs`` 3x3 conv + norm + ReLU blocks."""
        tower = nn.ModuleList()
        for i in range(self.stacked_convs):
            last = i == self.stacked_convs - 1
            tower.append(
                ConvModule(
                    self.in_channels if i == 0 else self.feat_channels,
                    self.feat_channels,
                    3,
                    stride=1,
                    padding=1,
                    conv_cfg=dict(type='DCNv2') if
                    (self.dcn_on_last_conv and last) else self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    bias=self.conv_bias))
        return tower

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, *args, **kwargs) -> None:
        """Rename the predictors of very old mmdet checkpoints.

        A state dict without version metadata may name them ``fcos_cls``,
        ``fcos_reg`` and ``fcos_centerness``; mmdet renames them too.
        """
        if local_metadata.get('version') is None:
            for key in [k for k in state_dict if k.startswith(prefix)]:
                name, _, rest = key[len(prefix):].partition('.')
                if name in _LEGACY_PREDICTORS:
                    new_key = f'{prefix}{_LEGACY_PREDICTORS[name]}.{rest}'
                    state_dict[new_key] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      *args, **kwargs)

    # ------------------------------------------------------------ forward
    def forward(self, x: Sequence[Tensor]) -> tuple:
        """Run the head on every level.

        Args:
            x (Sequence[Tensor]): One ``(N, in_channels, H_l, W_l)`` feature
                map per stride.

        Returns:
            tuple: ``(cls_scores, bbox_preds, centernesses)``, each a list
            with one tensor per level (see the module docstring), or
            ``(cls_scores, bbox_preds)`` without center-ness.
        """
        if len(x) != len(self.strides):
            raise ValueError(
                f'FCOSHead got {len(x)} feature maps for '
                f'{len(self.strides)} strides {self.strides}')
        outs = [
            self.forward_single(feat, scale, stride)
            for feat, scale, stride in zip(x, self.scales, self.strides)
        ]
        cls_scores, bbox_preds, centernesses = (list(o) for o in zip(*outs))
        if self.use_centerness:
            return cls_scores, bbox_preds, centernesses
        return cls_scores, bbox_preds

    def forward_single(self, x: Tensor, scale: Scale,
                       stride: int) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """Run the head on one level.

        Args:
            x (Tensor): ``(N, in_channels, H, W)`` features.
            scale (Scale): The level's learnable scale of the regression.
            stride (int): The level's stride in pixels.

        Returns:
            tuple: ``(N, C, H, W)`` class logits, ``(N, 4, H, W)`` float32
            distances in pixels, ``(N, 1, H, W)`` center-ness logits (None
            without center-ness).
        """
        cls_feat = x
        for layer in self.cls_convs:
            cls_feat = layer(cls_feat)
        reg_feat = x
        for layer in self.reg_convs:
            reg_feat = layer(reg_feat)
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

    def _unpack_outs(self, outs: tuple) -> tuple:
        """``forward``'s outputs as ``(cls_scores, bbox_preds, centernesses
        or None)``."""
        if self.use_centerness:
            return tuple(outs)
        return (outs[0], outs[1], None)

    # --------------------------------------------------------------- loss
    def loss(self, x: Sequence[Tensor],
             batch_data_samples: SampleList) -> dict:
        """Forward the features and compute the losses.

        Args:
            x (Sequence[Tensor]): Features, one map per stride.
            batch_data_samples (list[DetDataSample]): ``gt_instances``
                (``bboxes``, ``labels``) and ``metainfo`` of each image.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox`` and (with
            center-ness) ``loss_centerness``.
        """
        gts, gts_ignore, img_metas = unpack_gt_instances(batch_data_samples)
        return self.loss_by_feat(
            *self._unpack_outs(self(x)),
            batch_gt_instances=gts,
            batch_img_metas=img_metas,
            batch_gt_instances_ignore=gts_ignore)

    def loss_by_feat(
        self,
        cls_scores: List[Tensor],
        bbox_preds: List[Tensor],
        centernesses: Optional[List[Tensor]],
        batch_gt_instances: InstanceList,
        batch_img_metas: List[dict],
        batch_gt_instances_ignore: OptInstanceList = None
    ) -> Dict[str, Tensor]:
        """Compute the losses from the head's outputs.

        The focal loss runs over all points and is divided by the number of
        positives; the box loss runs over the positives, weighted by their
        center-ness targets and divided by their sum; the center-ness loss
        runs over the positives, divided by their number. Both divisors are
        averaged over distributed ranks. Predictions are cast to float32
        first, so the losses are float32 under autocast too.

        Args:
            cls_scores (list[Tensor]): Per level ``(N, C, H_l, W_l)``.
            bbox_preds (list[Tensor]): Per level ``(N, 4, H_l, W_l)``,
                pixels.
            centernesses (list[Tensor], optional): Per level
                ``(N, 1, H_l, W_l)``; None without center-ness.
            batch_gt_instances (list[InstanceData]): ``bboxes`` ``(G, 4)``
                and ``labels`` ``(G,)`` of each image.
            batch_img_metas (list[dict]): Meta information of each image
                (``img_path`` / ``img_id`` name it in error messages).
            batch_gt_instances_ignore (list[InstanceData], optional): Not
                used, as in mmdet's FCOS. Defaults to None.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox`` and (with
            center-ness) ``loss_centerness``.
        """
        if len(cls_scores) != len(bbox_preds):
            raise ValueError('cls_scores and bbox_preds differ in levels')
        device = cls_scores[0].device
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        mlvl_points = self.prior_generator.grid_priors(
            featmap_sizes, dtype=torch.float32, device=device)
        labels, bbox_targets = self.get_targets(
            mlvl_points, batch_gt_instances, batch_img_metas,
            [tuple(size) for size in featmap_sizes])
        points = torch.cat(mlvl_points)  # (P, 2)
        flat_cls_scores = flatten_levels(cls_scores).float()  # (N, P, C)
        flat_bbox_preds = flatten_levels(bbox_preds).float()  # (N, P, 4)

        pos_img_inds, pos_point_inds = (labels < self.num_classes).nonzero(
            as_tuple=True)
        num_local_pos = pos_img_inds.numel()
        num_pos = reduce_mean(
            torch.tensor(num_local_pos, dtype=torch.float,
                         device=device)).clamp(min=1.0)

        loss_cls = self.loss_cls(
            flat_cls_scores.reshape(-1, self.cls_out_channels),  # (N * P, C)
            labels.reshape(-1),  # (N * P,)
            avg_factor=num_pos)

        pos_bbox_preds = flat_bbox_preds[pos_img_inds, pos_point_inds]
        pos_bbox_targets = bbox_targets[pos_img_inds, pos_point_inds]
        pos_points = points[pos_point_inds]
        losses = dict(loss_cls=loss_cls)
        if self.use_centerness:
            # (N, P, 1) -> (num_pos,)
            pos_centerness = flatten_levels(centernesses).float()[
                pos_img_inds, pos_point_inds, 0]
            pos_centerness_targets = self.centerness_target(pos_bbox_targets)
            # every rank reduces, whether or not it has positives
            centerness_denorm = reduce_mean(
                pos_centerness_targets.sum().detach()).clamp(min=1e-6)
            bbox_weight, bbox_denorm = (pos_centerness_targets,
                                        centerness_denorm)
        else:
            bbox_weight, bbox_denorm = None, num_pos

        if num_local_pos > 0:
            losses['loss_bbox'] = self.loss_bbox(
                get_box_tensor(self.bbox_coder.decode(pos_points,
                                                      pos_bbox_preds)),
                get_box_tensor(
                    self.bbox_coder.decode(pos_points, pos_bbox_targets)),
                weight=bbox_weight,
                avg_factor=bbox_denorm)
            if self.use_centerness:
                losses['loss_centerness'] = self.loss_centerness(
                    pos_centerness,
                    pos_centerness_targets,
                    avg_factor=num_pos)
        else:
            # zero, but connected to the outputs so that every parameter
            # gets a (zero) gradient, as in mmdet
            losses['loss_bbox'] = pos_bbox_preds.sum()
            if self.use_centerness:
                losses['loss_centerness'] = pos_centerness.sum()
        return losses

    @torch.no_grad()
    def get_targets(
        self,
        points: List[Tensor],
        batch_gt_instances: InstanceList,
        batch_img_metas: Optional[List[dict]] = None,
        featmap_sizes: Optional[Sequence[Tuple[int, int]]] = None
    ) -> Tuple[Tensor, Tensor]:
        """Assign every point of every image with ``self.assigner``, at once.

        Args:
            points (list[Tensor]): Per level ``(H_l * W_l, 2)`` points.
            batch_gt_instances (list[InstanceData]): ``bboxes`` and
                ``labels`` of each image.
            batch_img_metas (list[dict], optional): Meta information, to
                name an image with bad ground truth. Defaults to None.
            featmap_sizes (Sequence[tuple[int, int]], optional): Per level
                ``(H_l, W_l)`` of the point grids, which lets the assigner
                test only a window of each grid per box. Defaults to None
                (every point tested).

        Returns:
            tuple[Tensor, Tensor]: ``labels`` ``(N, P)`` (``C`` for
            background) and ``bbox_targets`` ``(N, P, 4)`` in pixels.

        Raises:
            ValueError: An image has a degenerate or non-finite box or a
                label outside ``[0, num_classes)``.
        """
        batch_gt_bboxes = [
            get_box_tensor(gt.bboxes) for gt in batch_gt_instances
        ]
        batch_gt_labels = [gt.labels for gt in batch_gt_instances]
        self._check_gt(batch_gt_bboxes, batch_gt_labels, batch_img_metas)
        result = self.assigner.assign_batch(
            points,
            self.strides,
            batch_gt_bboxes,
            batch_gt_labels,
            self.num_classes,
            featmap_sizes=featmap_sizes,
            validate=False)
        return result.labels, result.bbox_targets

    def _check_gt(self, batch_gt_bboxes: List[Tensor],
                  batch_gt_labels: List[Tensor],
                  batch_img_metas: Optional[List[dict]]) -> None:
        """Raise a ValueError naming the image and box if one is bad.

        Shapes are checked on the host; the values of the whole batch with
        one host-device synchronisation.
        """

        def where(i: int) -> str:
            meta = batch_img_metas[i] if batch_img_metas else {}
            img = meta.get('img_path') or meta.get('img_id')
            return (f'image {img!r} (batch index {i})'
                    if img is not None else f'image {i} of the batch')

        for i, (gt_bboxes, gt_labels) in enumerate(
                zip(batch_gt_bboxes, batch_gt_labels)):
            if gt_bboxes.dim() != 2 or gt_bboxes.size(-1) != 4:
                raise ValueError(
                    f'{where(i)}: gt_instances.bboxes must be (G, 4), got '
                    f'shape {tuple(gt_bboxes.shape)}')
            if gt_labels.shape != gt_bboxes.shape[:1]:
                raise ValueError(
                    f'{where(i)}: gt_instances.labels has shape '
                    f'{tuple(gt_labels.shape)} for {gt_bboxes.size(0)} boxes')
        gt_bboxes = torch.cat(batch_gt_bboxes)
        gt_labels = torch.cat(batch_gt_labels)
        finite = torch.isfinite(gt_bboxes).all(dim=1)
        # written so that a NaN coordinate also counts as degenerate
        degenerate = ~((gt_bboxes[:, 2] > gt_bboxes[:, 0]) &
                       (gt_bboxes[:, 3] > gt_bboxes[:, 1]))
        bad_label = (gt_labels < 0) | (gt_labels >= self.num_classes)
        if not bool((~finite | degenerate | bad_label).any()):
            return
        start = 0
        for i, boxes in enumerate(batch_gt_bboxes):
            stop = start + boxes.size(0)
            for mask, what in (
                (~finite, 'has a NaN or infinite coordinate'),
                (degenerate, 'is degenerate (x2 <= x1 or y2 <= y1)'),
                (bad_label, f'has a label outside [0, {self.num_classes})'),
            ):
                bad = mask[start:stop].nonzero().flatten().tolist()
                if bad:
                    j = bad[0]
                    coords = [round(v, 3) for v in boxes[j].tolist()]
                    raise ValueError(
                        f'{where(i)}: ground-truth box {j} {coords} (x1, y1, '
                        f'x2, y2) with label {int(gt_labels[start + j])} '
                        f'{what}; {len(bad)} such box(es) in this image. Fix '
                        'or filter the annotations (e.g. with '
                        'FilterAnnotations in the pipeline).')
            start = stop

    @staticmethod
    def centerness_target(bbox_targets: Tensor) -> Tensor:
        """Center-ness ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``.

        Call it on positives only: background targets may divide by zero.

        Args:
            bbox_targets (Tensor): ``(n, 4)`` ``(l, t, r, b)`` distances.

        Returns:
            Tensor: ``(n,)`` center-ness in ``(0, 1]``.
        """
        left_right = bbox_targets[:, [0, 2]]
        top_bottom = bbox_targets[:, [1, 3]]
        return torch.sqrt(
            (left_right.min(dim=-1)[0] / left_right.max(dim=-1)[0]) *
            (top_bottom.min(dim=-1)[0] / top_bottom.max(dim=-1)[0]))

    # ------------------------------------------------------------ predict
    def predict(self,
                x: Sequence[Tensor],
                batch_data_samples: SampleList,
                rescale: bool = False) -> InstanceList:
        """Forward the features and post-process into detections.

        Args:
            x (Sequence[Tensor]): Features, one map per stride.
            batch_data_samples (list[DetDataSample]): Give each image's
                ``metainfo`` (``img_shape``, ``scale_factor``).
            rescale (bool): Map boxes back to the original image.
                Defaults to False.

        Returns:
            list[InstanceData]: ``bboxes``, ``scores``, ``labels`` per image.
        """
        img_metas = [sample.metainfo for sample in batch_data_samples]
        return self.predict_by_feat(
            *self._unpack_outs(self(x)),
            batch_img_metas=img_metas,
            rescale=rescale)

    def loss_and_predict(
        self,
        x: Sequence[Tensor],
        batch_data_samples: SampleList,
        proposal_cfg: OptConfigType = None
    ) -> Tuple[dict, InstanceList]:
        """Losses and detections from one forward pass.

        Args:
            x (Sequence[Tensor]): Features, one map per stride.
            batch_data_samples (list[DetDataSample]): Ground truth and meta
                information of each image.
            proposal_cfg (dict, optional): Post-processing config instead of
                ``test_cfg``. Defaults to None.

        Returns:
            tuple: The loss dict and the detections of each image.
        """
        gts, gts_ignore, img_metas = unpack_gt_instances(batch_data_samples)
        outs = self._unpack_outs(self(x))
        losses = self.loss_by_feat(
            *outs,
            batch_gt_instances=gts,
            batch_img_metas=img_metas,
            batch_gt_instances_ignore=gts_ignore)
        predictions = self.predict_by_feat(
            *outs, batch_img_metas=img_metas, cfg=proposal_cfg)
        return losses, predictions

    def predict_by_feat(self,
                        cls_scores: List[Tensor],
                        bbox_preds: List[Tensor],
                        centernesses: Optional[List[Tensor]] = None,
                        batch_img_metas: Optional[List[dict]] = None,
                        cfg: OptConfigType = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> InstanceList:
        """Post-process the head's outputs into detections, as mmdet does.

        Per level and image: keep the class scores above ``score_thr`` and
        of those the ``nms_pre`` highest (``nms_pre <= 0``: all); decode the
        boxes and clip them to ``img_shape``; with ``rescale`` divide by
        ``scale_factor``; multiply the scores by the center-ness; drop boxes
        not wider and taller than ``min_bbox_size`` (if >= 0); class-wise
        NMS; keep ``max_per_img``. Everything but NMS runs on the whole
        batch at once.

        Args:
            cls_scores (list[Tensor]): Per level ``(N, C, H_l, W_l)``.
            bbox_preds (list[Tensor]): Per level ``(N, 4, H_l, W_l)``.
            centernesses (list[Tensor], optional): Per level
                ``(N, 1, H_l, W_l)``. Defaults to None.
            batch_img_metas (list[dict], optional): ``img_shape`` (and
                ``scale_factor`` to rescale) of each image.
            cfg (dict, optional): Overrides ``test_cfg``. Defaults to None.
            rescale (bool): Map boxes to the original image.
                Defaults to False.
            with_nms (bool): Run NMS and ``max_per_img``. Defaults to True.

        Returns:
            list[InstanceData]: Per image ``bboxes`` ``(n, 4)``, ``scores``
            ``(n,)`` and ``labels`` ``(n,)``, by decreasing score after NMS.
        """
        cfg = self.test_cfg if cfg is None else cfg
        if cfg is None:
            raise ValueError('FCOSHead needs a test_cfg (or cfg) to predict')
        if batch_img_metas is None:
            raise ValueError('FCOSHead.predict_by_feat needs batch_img_metas')
        needed = ('img_shape', 'scale_factor') if rescale else ('img_shape', )
        for i, meta in enumerate(batch_img_metas):
            missing = [key for key in needed if key not in meta]
            if missing:
                img = meta.get('img_path', meta.get('img_id', i))
                raise ValueError(
                    f'FCOSHead.predict_by_feat: the metainfo of image {img!r} '
                    f'(batch index {i}) lacks {", ".join(missing)}'
                    f'{" (needed to rescale)" if rescale else ""}')
        nms_pre = cfg.get('nms_pre', -1)
        score_thr = cfg.get('score_thr', 0)
        min_bbox_size = cfg.get('min_bbox_size', -1)
        num_imgs = cls_scores[0].size(0)
        device = cls_scores[0].device
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        mlvl_points = self.prior_generator.grid_priors(
            featmap_sizes, dtype=torch.float32, device=device)
        num_points = [points.size(0) for points in mlvl_points]

        with torch.no_grad():
            mlvl_scores = flatten_levels(cls_scores).float().sigmoid().split(
                num_points, dim=1)  # L x (N, H_l * W_l, C)
            mlvl_bbox_preds = flatten_levels(bbox_preds).float().split(
                num_points, dim=1)  # L x (N, H_l * W_l, 4)
            mlvl_centerness = [None] * len(num_points)
            if centernesses is not None:
                mlvl_centerness = flatten_levels(centernesses).float(
                ).sigmoid()[..., 0].split(num_points, dim=1)  # (N, H_l*W_l)

            cands = [
                self._level_candidates(*level, nms_pre)
                for level in zip(mlvl_scores, mlvl_bbox_preds, mlvl_points,
                                 mlvl_centerness)
            ]
            # (N, K) scores, labels, factors; (N, K, 2) points;
            # (N, K, 4) distances
            scores, labels, points, dists, factors = (
                torch.cat(parts, dim=1) if parts[0] is not None else None
                for parts in zip(*cands))
            keep = scores > score_thr  # (N, K)
            bboxes = get_box_tensor(
                self.bbox_coder.decode(
                    points,
                    dists,
                    max_shape=[meta['img_shape'] for meta in batch_img_metas
                               ]))  # (N, K, 4)
            if rescale:
                bboxes = bboxes * bboxes.new_tensor([
                    [1 / s for s in meta['scale_factor']] * 2
                    for meta in batch_img_metas
                ]).unsqueeze(1)  # (N, 1, 4)
            if factors is not None:
                scores = scores * factors
            if min_bbox_size >= 0:
                keep &= (bboxes[..., 2] - bboxes[..., 0] > min_bbox_size) & (
                    bboxes[..., 3] - bboxes[..., 1] > min_bbox_size)

            results_list = []
            for i in range(num_imgs):
                results = InstanceData()
                results.bboxes = bboxes[i][keep[i]]
                results.scores = scores[i][keep[i]]
                results.labels = labels[i][keep[i]]
                if with_nms and results.bboxes.numel() > 0:
                    dets, nms_keep = batched_nms(results.bboxes,
                                                 results.scores,
                                                 results.labels, cfg['nms'])
                    results = results[nms_keep]
                    # an NMS variant may re-score (e.g. soft-NMS)
                    results.scores = dets[:, -1]
                    results = results[:cfg['max_per_img']]
                results_list.append(results)
        return results_list

    def _level_candidates(self, scores: Tensor, bbox_preds: Tensor,
                          points: Tensor, centerness: Optional[Tensor],
                          nms_pre: int) -> tuple:
        """The ``nms_pre`` best (point, class) pairs of one level per image.

        Args:
            scores (Tensor): ``(N, H_l * W_l, C)`` probabilities.
            bbox_preds (Tensor): ``(N, H_l * W_l, 4)`` distances.
            points (Tensor): ``(H_l * W_l, 2)`` points.
            centerness (Tensor, optional): ``(N, H_l * W_l)``
                probabilities.
            nms_pre (int): Candidates to keep; ``<= 0`` keeps all.

        Returns:
            tuple: ``(N, k)`` scores (decreasing) and labels, ``(N, k, 2)``
            points, ``(N, k, 4)`` distances, ``(N, k)`` center-ness or None.
        """
        num_imgs, _, num_classes = scores.shape
        # (N, H_l * W_l * C), index point * C + class: mmdet's order
        scores = scores.reshape(num_imgs, -1)
        k = scores.size(1) if nms_pre <= 0 else min(nms_pre, scores.size(1))
        # above-threshold pairs outrank the rest, so thresholding the top k
        # keeps what mmdet keeps: the top k of those above the threshold
        scores, inds = scores.topk(k, dim=1)
        point_inds = torch.div(inds, num_classes, rounding_mode='floor')
        labels = inds % num_classes
        dists = bbox_preds.gather(
            1, point_inds.unsqueeze(-1).expand(-1, -1, 4))
        if centerness is not None:
            centerness = centerness.gather(1, point_inds)
        return scores, labels, points[point_inds], dists, centerness
