"""Per class: AP from the matching pass, AP by size from the COCO
evaluator, and the best-F1 threshold with P/R/F1 there."""
import numpy as np

from ... import functional as F
from ..base import ReportContext, Section, to_float
from ..html import table

#: The columns of ``classes.csv`` and of the page's table.
KEYS = ('name', 'ap', 'ap50', 'ap75', 'ap_small', 'ap_medium', 'ap_large',
        'gts', 'images', 'dets', 'f1_threshold', 'precision', 'recall',
        'f1')
HEADER = ('class', 'AP', 'AP50', 'AP75', 'AP_s', 'AP_m', 'AP_l', 'boxes',
          'images', 'dets', 'F1 thr', 'P', 'R', 'F1')


class ClassesSection(Section):
    key = 'classes'
    title = 'Per class'

    def build(self, ctx: ReportContext) -> dict:
        data, aps = ctx.data, ctx.aps
        sizes = (ctx.coco or {}).get('per_class_sizes')
        rows = []
        for label, name in enumerate(data.classes):
            with_label = (data.gt_labels == label) & ~data.gt_ignore
            best = F.best_f1(data, ctx.matching, label=label,
                             iou_thr=ctx.thresholds.f1_iou)
            row = dict(
                name=name, ap=to_float(np.mean(aps[:, label])),
                ap50=to_float(aps[0, label]), ap75=to_float(aps[5, label]),
                ap_small=None, ap_medium=None, ap_large=None,
                gts=int(ctx.gt_counts[label]),
                images=len(np.unique(data.gt_image[with_label])),
                dets=int((data.det_labels == label).sum()),
                f1_threshold=to_float(best['threshold']),
                precision=to_float(best['precision']),
                recall=to_float(best['recall']), f1=to_float(best['f1']))
            if sizes is not None and label < len(sizes):
                row['ap_small'], row['ap_medium'], row['ap_large'] = \
                    sizes[label][1:]
            rows.append(row)
        return dict(classes=rows)

    def tables(self, report: dict) -> list:
        return [('classes.csv', list(KEYS),
                 ([row[key] for key in KEYS] for row in report['classes']))]

    def html(self, report: dict, page) -> str:
        thr = report['thresholds']
        return ('<h2 id="classes">Per class</h2><p class="note">AP averaged '
                'over IoU 0.5:0.95 from the matching pass (up to '
                f'{thr["max_dets"]} detections per image and class); AP '
                'small/medium/large from the COCO evaluator; best-F1 '
                f'threshold and P/R/F1 there at IoU {thr["f1_iou"]}. Click '
                'a column to sort.</p>\n' + table(
                    HEADER, ([row[key] for key in KEYS]
                             for row in report['classes'])))
