"""mmdet's COCO dataset, checking the annotation file as it is read.

Registered as ``CocoDataset`` in the ``fcos_mm`` scope, so configs get it
unchanged. Differences from mmdet, which silently drops an annotation of an
undefined category or image and keeps a box sticking out of its image (a
typo in a converted data set then trains on less data with no word said):

* an annotation whose ``category_id`` is not in the json's ``categories``
  -> :class:`ValueError` naming the json file, the annotation id and the
  category id (a defined category that ``metainfo=dict(classes=...)`` does
  not select is skipped silently, as in mmdet: selection, not an error);
* an annotation whose ``image_id`` is not in the json's ``images``, or whose
  ``bbox`` is not four finite numbers -> :class:`ValueError` naming the json
  file and the annotation id;
* a box partly outside its image -> **clipped** to the image, with one
  warning per file that counts them and names the first;
* a box entirely outside its image -> **skipped**, likewise warned about;
* ``metainfo['classes']`` listing the json's categories in another order ->
  :class:`ValueError`: labels follow the json's order, names follow
  ``classes`` (names the json lacks are accepted, as in mmdet);
* the images :class:`~fcos_mm.datasets.LoadImageFromFile` skipped
  (``on_bad_image='skip'``) while fetching a sample ride in its
  ``data_samples`` metainfo (``skipped_images``) to
  :class:`~fcos_mm.engine.hooks.SkippedImagesHook` in the main process,
  whichever worker skipped them; in test mode a skipped image is an error
  naming the file, since every image needs a result.
"""
import copy
import math
import warnings
from typing import List, Union

from mmdet.datasets import CocoDataset as MMDetCocoDataset
from mmengine.fileio import get_local_path

from fcos_mm.datasets.load_image_from_file import pop_skipped_images
from fcos_mm.registry import DATASETS

SKIPPED_IMAGES_KEY = 'skipped_images'


def is_coco_bbox(bbox) -> bool:
    """Whether ``bbox`` is ``[x, y, width, height]``, four finite numbers."""
    return (isinstance(bbox, (list, tuple)) and len(bbox) == 4
            and all(isinstance(value, (int, float)) and math.isfinite(value)
                    for value in bbox))


@DATASETS.register_module()
class CocoDataset(MMDetCocoDataset):
    """COCO-format detection data set that validates its annotations (see
    the module docstring); the arguments of mmdet's ``CocoDataset``."""

    def load_data_list(self) -> List[dict]:
        """Load ``self.ann_file``, check it (ValueError naming the file and
        the annotation), and parse it into one data info per image."""
        with get_local_path(
                self.ann_file, backend_args=self.backend_args) as local_path:
            self.coco = self.COCOAPI(local_path)
        self._check_annotations()
        self.cat_ids = self.coco.get_cat_ids(
            cat_names=self.metainfo['classes'])
        self._check_classes()
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        self.cat_img_map = copy.deepcopy(self.coco.cat_img_map)

        self._clipped: List[int] = []
        self._outside: List[int] = []
        data_list = []
        for img_id in self.coco.get_img_ids():
            raw_img_info = self.coco.load_imgs([img_id])[0]
            raw_img_info['img_id'] = img_id
            ann_ids = self.coco.get_ann_ids(img_ids=[img_id])
            data_list.append(
                self.parse_data_info(
                    dict(
                        raw_ann_info=self.coco.load_anns(ann_ids),
                        raw_img_info=raw_img_info)))
        self._warn_about_boxes()
        del self.coco
        return data_list

    def __getitem__(self, idx: int) -> dict:
        """The ``idx``-th sample after the pipeline (mmengine draws another
        image while it returns None); the records of the images skipped
        meanwhile ride in its ``data_samples`` metainfo (module docstring).
        """
        pop_skipped_images()  # not ours: left over from another dataset
        if self.test_mode:
            data = self.prepare_data(idx)
            if data is None:
                reasons = '; '.join(
                    record['reason'] for record in pop_skipped_images())
                raise ValueError(
                    f'{self.ann_file}: the pipeline returned nothing for '
                    f'image {self.get_data_info(idx).get("img_path")} in test '
                    f'mode, where every image needs a result '
                    f'({reasons or "a transform dropped it"}). Fix or remove '
                    f'the file (tools/misc/check_dataset.py lists them).')
            return data
        data = super().__getitem__(idx)
        skipped = pop_skipped_images()
        sample = data.get('data_samples') if isinstance(data, dict) else None
        if skipped and hasattr(sample, 'set_metainfo'):
            sample.set_metainfo({SKIPPED_IMAGES_KEY: skipped})
        return data

    def _check_classes(self) -> None:
        """Raise if ``metainfo['classes']`` is out of the json's order."""
        found = [self.coco.cats[cat_id]['name'] for cat_id in self.cat_ids]
        listed = [name for name in self.metainfo['classes'] if name in found]
        if listed != found:
            raise ValueError(
                f'{self.ann_file}: list metainfo classes in the json\'s '
                f'category order, {found}, not {listed}: labels follow the '
                f'json\'s order, so the names would be attached to the wrong '
                f'classes.')

    def _check_annotations(self) -> None:
        """Raise on annotations that name unknown ids or malformed boxes."""
        cats, imgs = self.coco.cats, self.coco.imgs
        # An image-info file (e.g. test-dev) has no annotations at all.
        anns = self.coco.dataset.get('annotations', [])
        seen_ids = set()
        for ann in anns if self.ANN_ID_UNIQUE else ():
            if ann['id'] in seen_ids:
                raise ValueError(f'{self.ann_file}: annotation id {ann["id"]} '
                                 f'is used more than once; annotation ids '
                                 f'must be unique.')
            seen_ids.add(ann['id'])
        for ann in anns:
            if ann['category_id'] not in cats:
                raise ValueError(
                    f'{self.ann_file}: annotation {ann["id"]} has '
                    f'category_id {ann["category_id"]}, which is not among '
                    f'the categories the file defines '
                    f'({sorted(cats)}).')
            if ann['image_id'] not in imgs:
                raise ValueError(
                    f'{self.ann_file}: annotation {ann["id"]} has image_id '
                    f'{ann["image_id"]}, which is not among the images the '
                    f'file lists.')
            if not is_coco_bbox(ann.get('bbox')):
                raise ValueError(
                    f'{self.ann_file}: annotation {ann["id"]} has bbox '
                    f'{ann.get("bbox")!r}; expected [x, y, width, height], '
                    f'four finite numbers.')

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        """Clip boxes to their image and drop those outside, then parse as
        mmdet does."""
        img_info = raw_data_info['raw_img_info']
        width, height = img_info['width'], img_info['height']
        # Normally load_data_list sets these up and reports them at its end.
        clipped = self.__dict__.setdefault('_clipped', [])
        outside = self.__dict__.setdefault('_outside', [])
        kept = []
        for ann in raw_data_info['raw_ann_info']:
            x1, y1, w, h = ann['bbox']
            cx1, cy1 = max(x1, 0), max(y1, 0)
            cx2, cy2 = min(x1 + w, width), min(y1 + h, height)
            if w > 0 and h > 0 and (cx2 <= cx1 or cy2 <= cy1):
                outside.append(ann['id'])
                continue
            if w > 0 and h > 0 and (cx1, cy1, cx2, cy2) != (x1, y1, x1 + w,
                                                             y1 + h):
                ann = dict(ann, bbox=[cx1, cy1, cx2 - cx1, cy2 - cy1])
                clipped.append(ann['id'])
            # Some converters omit "area"; mmdet's parser needs it.
            if 'area' not in ann:
                ann = dict(ann, area=ann['bbox'][2] * ann['bbox'][3])
            kept.append(ann)
        return super().parse_data_info(
            dict(raw_data_info, raw_ann_info=kept))

    def _warn_about_boxes(self) -> None:
        """One warning per kind of box fix, naming the first annotation."""
        for ids, what in ((self._clipped,
                           'partly outside their image; clipped them to '
                           'the image'),
                          (self._outside,
                           'entirely outside their image; skipped them')):
            if ids:
                warnings.warn(
                    f'{self.ann_file}: {len(ids)} annotation(s) have boxes '
                    f'{what} (first: annotation {ids[0]}).',
                    stacklevel=2)
