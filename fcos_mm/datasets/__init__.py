from .coco import CocoDataset
from .load_image_from_file import LoadImageFromFile

__all__ = ['CocoDataset', 'LoadImageFromFile']
