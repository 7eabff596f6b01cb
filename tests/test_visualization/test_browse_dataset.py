"""browse_dataset: the training pipeline's inputs with their boxes."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
from mmengine.config import Config

from fcos_mm.visualization.browse_dataset import browse_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_browse_tool_on_tiny_coco(tmp_path, coco_tiny_root):
    config = tmp_path / 'cfg.py'
    config.write_text(
        'train_dataloader = dict(dataset=dict(type="CocoDataset",\n'
        f'    data_root={coco_tiny_root["root"] + "/"!r},\n'
        '    ann_file="annotations/instances_train2017.json",\n'
        '    data_prefix=dict(img="train2017/"),\n'
        '    pipeline=[dict(type="LoadImageFromFile"),\n'
        '              dict(type="LoadAnnotations", with_bbox=True),\n'
        '              dict(type="Resize", scale=(64, 48), keep_ratio=False),'
        '\n              dict(type="RandomFlip", prob=1.0),\n'
        '              dict(type="PackDetInputs")]))\n')
    spec = importlib.util.spec_from_file_location(
        'browse_tool',
        osp.join(REPO, 'tools', 'analysis_tools', 'browse_dataset.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'out')
    written = tool.main([str(config), '--out', out, '--num-images', '2'])
    assert len(written) == 2
    img = cv2.imread(written[0])
    assert img.shape == (48, 64, 3)  # the resized input, not the file
    # the flip is dropped unless asked for: the same pictures again
    again = browse_dataset(Config.fromfile(str(config)),
                           str(tmp_path / 'again'), num_images=1)
    assert np.array_equal(cv2.imread(again[0]), img)
    flipped = browse_dataset(Config.fromfile(str(config)),
                             str(tmp_path / 'flip'), num_images=1,
                             keep_random=True)
    assert not np.array_equal(cv2.imread(flipped[0]), img)
