"""Galleries: the worst images by their own AP50, the highest-scoring false
positives and the missed boxes; with the per-image table."""
from typing import List

import numpy as np

from ... import functional as F
from ..base import ReportContext, Section, box_item, to_float
from ..html import esc, fmt, plural, shown


class GalleriesSection(Section):
    key = 'galleries'
    title = 'Galleries'

    def build(self, ctx: ReportContext) -> dict:
        return dict(images=self._image_rows(ctx),
                    galleries=self._galleries(ctx))

    @staticmethod
    def _fp_count(ctx: ReportContext) -> np.ndarray:
        """``(I,)`` false positives scoring ``>=`` the report's
        threshold, per image."""
        data = ctx.data
        return np.bincount(
            data.det_image[ctx.false_positives &
                           (data.det_scores >= ctx.score_thr)],
            minlength=data.num_images)

    def _image_rows(self, ctx: ReportContext) -> List[dict]:
        """Per image: id, path, AP50, boxes, false positives above the
        threshold."""
        data = ctx.data
        boxes = np.bincount(data.gt_image[~data.gt_ignore],
                            minlength=data.num_images)
        false_pos = self._fp_count(ctx)
        return [dict(id=int(data.img_ids[index]),
                     path=data.img_paths[index],
                     ap50=to_float(ctx.image_aps[index]),
                     boxes=int(boxes[index]),
                     false_positives=int(false_pos[index]))
                for index in range(data.num_images)]

    def _galleries(self, ctx: ReportContext) -> dict:
        """Worst images by AP50 (then most false positives above the
        threshold); the highest-scoring false positives above the
        threshold; the boxes missed at the threshold (the confusion
        matrix's background column), largest first."""
        data, num, image_aps = ctx.data, ctx.num_gallery, ctx.image_aps
        det_type = ctx.errors['det_type']
        fp_count = self._fp_count(ctx)
        with_boxes = np.flatnonzero(np.isfinite(image_aps))
        order = np.lexsort((-fp_count[with_boxes], image_aps[with_boxes]))
        worst = [dict(image=int(image), ap50=to_float(image_aps[image]),
                      false_positives=int(fp_count[image]))
                 for image in with_boxes[order][:num]]
        fps = np.flatnonzero(ctx.false_positives &
                             (data.det_scores >= ctx.score_thr))
        fps = fps[np.argsort(-data.det_scores[fps], kind='stable')]
        missed = np.flatnonzero(ctx.confusion['gt_missed'])
        missed = missed[np.argsort(-data.gt_areas[missed], kind='stable')]
        return dict(
            worst=worst,
            num_false_positives=int(len(fps)),
            false_positives=[box_item(data, det, 'det',
                                      F.TIDE_NAMES[det_type[det]])
                             for det in fps[:num]],
            num_missed=int(len(missed)),
            missed=[box_item(data, gt, 'gt', 'missed')
                    for gt in missed[:num]])

    def tables(self, report: dict) -> list:
        return [('images.csv',
                 ['id', 'path', 'ap50', 'boxes', 'false_positives'],
                 ([row['id'], row['path'], row['ap50'], row['boxes'],
                   row['false_positives']] for row in report['images']))]

    def html(self, report: dict, page) -> str:
        gal = report['galleries']
        thr = report['thresholds']
        score = fmt(page.score_thr)
        out = ['<h2 id="galleries">Galleries</h2><p class="note">Green: '
               'ground truth; red dashed: detections with score &ge; '
               f'{score}; thick: the item.</p>']
        out.append('<h3>Worst images by AP50</h3>')
        out.append(page.gallery(
            gal['worst'], lambda item: f'AP50 {fmt(item["ap50"])}, '
            f'{plural(item["false_positives"], "false positive")}'))
        num_fps = gal['num_false_positives']
        out.append('<h3>Highest-scoring false positives</h3><p class="note">'
                   f'Detections with score &ge; {score} that are no true '
                   f'positive at IoU {thr["gallery_fp_iou"]}, with their '
                   f'TIDE type: {shown(gal["false_positives"], num_fps)}.'
                   '</p>')
        out.append(page.gallery(
            gal['false_positives'],
            lambda item: f'{esc(item["label"])} {fmt(item["score"], 2)}: '
            f'{esc(item["note"])}'))
        out.append('<h3>Missed boxes (largest first)</h3><p class="note">'
                   f'Boxes no detection with score &ge; {score} matches at '
                   f'IoU {thr["confusion"]["iou"]} (the confusion matrix\'s '
                   'background column): '
                   f'{shown(gal["missed"], gal["num_missed"])}. TIDE\'s '
                   '"missed" (Error breakdown) is another count: the boxes '
                   'no detection of any score finds or points at.</p>')
        out.append(page.gallery(
            gal['missed'], lambda item: f'{esc(item["label"])} missed'))
        return '\n'.join(out)
