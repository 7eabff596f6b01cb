"""PR curves (precision at the 101 recall points) and precision / recall /
F1 against the score threshold, overall and per class."""
import numpy as np

from fcos_mm.visualization.svg import line_chart

from ... import functional as F
from ..base import ReportContext, Section, to_floats
from ..html import fmt


def _rounded(values) -> list:
    return to_floats(np.round(values, 4))


class CurvesSection(Section):
    key = 'curves'
    title = 'PR and score curves'

    def present(self, report: dict) -> bool:
        return 'pr_curves' in report

    def build(self, ctx: ReportContext) -> dict:
        data, matching = ctx.data, ctx.matching
        iou_thr = ctx.thresholds.f1_iou
        curves = F.pr_curves(data, matching, ctx.class_precision[1])
        return dict(
            pr_curves={name: [_rounded(row) for row in value]
                       for name, value in curves.items()},
            score_curves={k: _rounded(v) for k, v in F.score_curves(
                data, matching, iou_thr=iou_thr).items()},
            class_score_curves=[
                {k: _rounded(v) for k, v in F.score_curves(
                    data, matching, label=label, iou_thr=iou_thr).items()
                 if k != 'score'}
                for label in range(data.num_classes)])

    def html(self, report: dict, page) -> str:
        thr = report['thresholds']
        best = report['summary']['best_f1']
        out = ['<h2 id="curves">PR and score curves</h2><p class="note">'
               'Precision at the 101 COCO recall points (envelope), at IoU '
               '0.5, 0.75 and averaged over 0.5:0.95; overall is the mean '
               'over classes. Score curves: detections with score &ge; the '
               f'threshold, all classes pooled, IoU {thr["f1_iou"]}; the '
               'dashed line is the best-F1 threshold.</p><div class="grid">']
        recall = list(np.round(F.REC_THRS, 2))
        pr = report['pr_curves']
        out.append(line_chart([(f'IoU {name}', recall, pr[name][-1])
                               for name in pr], 'all classes', 'recall',
                              'precision'))
        sc = report['score_curves']
        out.append(line_chart([(key, sc['score'], sc[key])
                               for key in ('precision', 'recall', 'f1')],
                              'P / R / F1 vs score', 'score threshold',
                              'value', marker=best['threshold']))
        out.append('</div><div class="grid">')
        for label, row in enumerate(report['classes']):
            if row['gts']:
                out.append(line_chart(
                    [(f'{name}', recall, pr[name][label]) for name in pr],
                    f'{row["name"]} (AP50 {fmt(row["ap50"])})', 'recall',
                    'precision', width=240, height=170))
        out.append('</div><p class="note">Per class, against the score '
                   'threshold (dashed: the class\'s best-F1 threshold):</p>'
                   '<div class="grid">')
        for label, row in enumerate(report['classes']):
            if row['gts']:
                curves = report['class_score_curves'][label]
                out.append(line_chart(
                    [(key, sc['score'], curves[key])
                     for key in ('precision', 'recall', 'f1')],
                    f'{row["name"]} (best F1 {fmt(row["f1"])})',
                    'score threshold', 'value', width=240, height=170,
                    marker=row['f1_threshold']))
        out.append('</div>')
        return '\n'.join(out)
