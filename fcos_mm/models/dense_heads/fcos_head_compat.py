"""What makes :class:`~fcos_mm.models.dense_heads.FCOSHead` a drop-in for
mmdet 3.3's ``FCOSHead``: its kwargs, its attributes and its old checkpoints.

Differences from mmdet
----------------------
* ``regress_ranges``, ``center_sampling`` and ``center_sample_radius`` are
  options of the assigner (``train_cfg.assigner``, :data:`DEFAULT_ASSIGNER`
  when absent); :func:`assigner_cfg` moves them there from the head kwargs
  and :func:`build_assigner` builds the result.
  The head's attributes of those names read and write the assigner's, so
  ``head.center_sampling = True`` changes the next loss's targets exactly as
  building the head with it would.
* ``norm_on_bbox`` is read by the head's ``forward_single``: changed on a
  built head it applies from the next forward. Calling ``loss_by_feat`` on
  outputs of an earlier forward, as mmdet's own head test does, gives the
  losses of the old setting (mmdet's rescales its targets there); the
  setter warns so.
* The attributes the layers are built from (``in_channels``,
  ``feat_channels``, ``stacked_convs``, ``strides``, ``dcn_on_last_conv``,
  ``conv_bias``, ``conv_cfg``, ``norm_cfg``, ``use_sigmoid_cls``) read as in
  mmdet but refuse a write (mmdet's head accepts it and changes nothing).
* State dicts of mmdet < 2.x name the predictors ``fcos_cls``, ``fcos_reg``
  and ``fcos_centerness``: :func:`rename_legacy_predictor` renames them, for
  the head's loading and for ``tools/model_converters/mmdet2fcos_mm.py``.
"""
import copy
import warnings
from typing import Optional

from mmdet.utils import OptConfigType

from fcos_mm.registry import TASK_UTILS

#: The assigner built when ``train_cfg`` names none, with its own defaults:
#: the paper's regress ranges, no center sampling.
DEFAULT_ASSIGNER = dict(type='FCOSPointAssigner')

#: Head kwargs of mmdet's FCOSHead that are the assigner's options here.
ASSIGNER_KWARGS = ('regress_ranges', 'center_sampling', 'center_sample_radius')

#: Predictor names of the checkpoints of mmdet < 2.x, and ours.
LEGACY_PREDICTORS = dict(fcos_cls='conv_cls', fcos_reg='conv_reg',
                         fcos_centerness='conv_centerness')


def assigner_cfg(train_cfg: OptConfigType, **head_kwargs) -> dict:
    """``train_cfg.assigner`` (or :data:`DEFAULT_ASSIGNER`) with the
    deprecated head kwargs (:data:`ASSIGNER_KWARGS`) moved in; refused when
    also set there."""
    given = (train_cfg or {}).get('assigner') or {}
    moved = {key: val for key, val in head_kwargs.items() if val is not None}
    clash = sorted(key for key in moved if key in given)
    if clash:
        raise ValueError(
            f'FCOSHead: {", ".join(clash)} given both as head kwargs and in '
            'train_cfg.assigner; keep them in train_cfg.assigner only')
    if moved:
        warnings.warn(
            f'FCOSHead: {", ".join(sorted(moved))} as head kwargs are '
            'deprecated; set them in train_cfg.assigner', DeprecationWarning)
    return {**copy.deepcopy(given or DEFAULT_ASSIGNER), **moved}


def build_assigner(train_cfg: OptConfigType, **head_kwargs):
    """The head's assigner, built with ``TASK_UTILS`` (in the caller's
    scope) from :func:`assigner_cfg`; refused unless it is a point assigner
    (``assign_batch``)."""
    assigner = TASK_UTILS.build(assigner_cfg(train_cfg, **head_kwargs))
    if not hasattr(assigner, 'assign_batch'):
        raise ValueError(
            'FCOSHead: train_cfg.assigner must be a point assigner with '
            'assign_batch, such as FCOSPointAssigner; got '
            f'{type(assigner).__name__} (mmdet 2.x FCOS configs carried an '
            'unused MaxIoUAssigner there: replace it)')
    return assigner


def rename_legacy_predictor(key: str, prefix: str = '') -> str:
    """``key`` with a legacy predictor name (:data:`LEGACY_PREDICTORS`)
    right after ``prefix`` renamed to ours; any other key unchanged.

    >>> rename_legacy_predictor('bbox_head.fcos_cls.weight', 'bbox_head.')
    'bbox_head.conv_cls.weight'
    """
    if not key.startswith(prefix):
        return key
    name, dot, rest = key[len(prefix):].partition('.')
    if name not in LEGACY_PREDICTORS:
        return key
    return f'{prefix}{LEGACY_PREDICTORS[name]}{dot}{rest}'


class _AssignerOption:
    """A head attribute of mmdet's FCOSHead that is an option of the
    assigner here: reading and writing it reads and writes
    ``head.assigner.<name>``, so a change applies to the next loss."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _assigner(self, head):
        assigner = head.assigner
        # not an AttributeError: nn.Module.__getattr__ would replace the
        # message by "no attribute"
        if not hasattr(assigner, self.name):
            raise TypeError(
                f'FCOSHead.{self.name} is an option of the assigner '
                f'(train_cfg.assigner), and {type(assigner).__name__} has '
                'none')
        return assigner

    def __get__(self, head, owner: Optional[type] = None):
        if head is None:
            return self
        return getattr(self._assigner(head), self.name)

    def __set__(self, head, value) -> None:
        assigner = self._assigner(head)
        if self.name == 'regress_ranges' and len(value) != len(head.strides):
            raise ValueError(
                f'FCOSHead.regress_ranges: {len(value)} ranges for '
                f'{len(head.strides)} strides {head.strides}')
        setattr(assigner, self.name, value)


class _BuiltWith:
    """A constructor argument of mmdet's FCOSHead that the layers are built
    from (kept in ``head._built_with``): readable, but a write is refused,
    since it could not change the built layers (mmdet's head accepts it and
    changes nothing)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, head, owner: Optional[type] = None):
        if head is None:
            return self
        return head._built_with[self.name]

    def __set__(self, head, value) -> None:
        raise AttributeError(
            f'FCOSHead.{self.name} is fixed once the head is built (its '
            f'layers depend on it); build a new head with {self.name}='
            f'{value!r} instead')


class FCOSHeadCompatMixin:
    """mmdet's FCOSHead attributes and legacy checkpoints (module
    docstring); listed first among the head's bases. The head sets
    ``_built_with`` (the :class:`_BuiltWith` values), ``_norm_on_bbox`` and
    ``assigner``."""

    # mmdet's head attributes whose home moved
    regress_ranges = _AssignerOption()
    center_sampling = _AssignerOption()
    center_sample_radius = _AssignerOption()
    in_channels = _BuiltWith()
    feat_channels = _BuiltWith()
    stacked_convs = _BuiltWith()
    strides = _BuiltWith()
    dcn_on_last_conv = _BuiltWith()
    conv_bias = _BuiltWith()
    conv_cfg = _BuiltWith()
    norm_cfg = _BuiltWith()
    use_sigmoid_cls = _BuiltWith()

    @property
    def norm_on_bbox(self) -> bool:
        """Predict ``ReLU(s * x) * stride`` instead of ``exp(s * x)``; read
        by ``forward_single``, so a change applies from the next forward
        (and so the next ``loss``)."""
        return self._norm_on_bbox

    @norm_on_bbox.setter
    def norm_on_bbox(self, value: bool) -> None:
        if bool(value) != self._norm_on_bbox:
            warnings.warn(
                f'FCOSHead.norm_on_bbox = {value}: applies from the next '
                'forward. bbox_preds are pixel distances either way, so '
                'loss_by_feat on the outputs of an earlier forward is '
                "unchanged (mmdet's head instead rescales its targets "
                'there); run forward again', UserWarning)
        self._norm_on_bbox = bool(value)

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, *args, **kwargs) -> None:
        """Rename the legacy predictors of a state dict without version
        metadata (:func:`rename_legacy_predictor`)."""
        if local_metadata.get('version') is None:
            for key in [k for k in state_dict if k.startswith(prefix)]:
                new_key = rename_legacy_predictor(key, prefix)
                if new_key != key:
                    state_dict[new_key] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      *args, **kwargs)
