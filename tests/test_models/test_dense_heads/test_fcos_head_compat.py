"""The mmdet compatibility of FCOSHead that lives beside it
(fcos_head_compat): the legacy predictor rename, shared with
tools/model_converters/mmdet2fcos_mm.py, and the assigner's config. The
head's attributes are tested on built heads in test_fcos_head.py."""
import pytest

from fcos_mm.models.dense_heads.fcos_head_compat import (
    DEFAULT_ASSIGNER,
    assigner_cfg,
    rename_legacy_predictor,
)


@pytest.mark.parametrize('key, prefix, expected', [
    ('bbox_head.fcos_cls.weight', 'bbox_head.', 'bbox_head.conv_cls.weight'),
    ('bbox_head.fcos_reg.bias', 'bbox_head.', 'bbox_head.conv_reg.bias'),
    ('fcos_centerness.weight', '', 'conv_centerness.weight'),
    # not a predictor, not under the prefix, or only a prefix of a name
    ('bbox_head.conv_cls.weight', 'bbox_head.', 'bbox_head.conv_cls.weight'),
    ('neck.fcos_cls.weight', 'bbox_head.', 'neck.fcos_cls.weight'),
    ('bbox_head.fcos_clsx.weight', 'bbox_head.', 'bbox_head.fcos_clsx.weight'),
    ('bbox_head.scales.0.scale', 'bbox_head.', 'bbox_head.scales.0.scale'),
])
def test_legacy_predictor_rename(key, prefix, expected):
    assert rename_legacy_predictor(key, prefix) == expected


def test_assigner_cfg_moves_head_kwargs_and_copies():
    given = dict(type='FCOSPointAssigner', center_sampling=True)
    train_cfg = dict(assigner=given)
    with pytest.warns(DeprecationWarning, match='regress_ranges as head'):
        cfg = assigner_cfg(train_cfg, regress_ranges=((-1, 8), ),
                           center_sample_radius=None)
    assert cfg == dict(type='FCOSPointAssigner', center_sampling=True,
                       regress_ranges=((-1, 8), ))
    assert given == dict(type='FCOSPointAssigner', center_sampling=True)
    assert assigner_cfg(None) == DEFAULT_ASSIGNER
    assert assigner_cfg(None) is not DEFAULT_ASSIGNER
    with pytest.raises(ValueError, match='center_sampling given both'):
        assigner_cfg(train_cfg, center_sampling=False)
