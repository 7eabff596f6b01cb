import importlib.util
import os.path as osp

import pytest

_HELPER = osp.join(
    osp.dirname(__file__), '..', 'test_datasets', 'coco_tiny.py')
_spec = importlib.util.spec_from_file_location('coco_tiny', _HELPER)
coco_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(coco_tiny)


@pytest.fixture
def coco_tiny_root(tmp_path):
    """A COCO-layout data root with 2 train and 2 val images."""
    return coco_tiny.make_coco_tiny(str(tmp_path / 'coco'))


@pytest.fixture
def coco_helper():
    """The fixture-writing module (``write_json``, ``make_split``, ...)."""
    return coco_tiny
