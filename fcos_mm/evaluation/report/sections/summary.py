"""Summary: what was evaluated, the COCO evaluator's 12 numbers and the
best F1 over all classes (whose threshold the other sections use)."""
import numpy as np

from ..base import ReportContext, Section, to_float
from ..html import esc, fmt, plural, table


class SummarySection(Section):
    key = 'summary'
    title = 'Summary'

    def build(self, ctx: ReportContext) -> dict:
        data, aps = ctx.data, ctx.aps
        coco = ctx.coco
        return dict(
            coco=coco and dict(names=coco['names'], values=coco['values']),
            summary=dict(
                images=data.num_images, boxes=int(ctx.gt_counts.sum()),
                ignored_boxes=int(data.gt_ignore.sum()),
                detections=int(len(data.det_scores)),
                map=to_float(np.nanmean(aps)) if np.isfinite(aps).any()
                else None,
                best_f1=dict((k, to_float(v))
                             for k, v in ctx.best_f1.items())))

    def tables(self, report: dict) -> list:
        if not report.get('coco'):
            return []
        return [('coco.csv', ['metric', 'value'],
                 zip(report['coco']['names'], report['coco']['values']))]

    def html(self, report: dict, page) -> str:
        meta, thr = report['meta'], report['thresholds']
        summary = report['summary']
        out = ['<h2 id="summary">Summary</h2>']
        rows = [(key, str(meta[key])) for key in (
            'config', 'checkpoint', 'predictions', 'compare', 'backend',
            'versions',
            'eval_seconds', 'analysis_seconds', 'created') if key in meta]
        out.append('<table>' + ''.join(
            f'<tr><th>{esc(k)}</th><td style="text-align:left">{esc(v)}'
            '</td></tr>' for k, v in rows) + '</table>')
        out.append(f'<p>{plural(summary["images"], "image")}, '
                   f'{plural(summary["boxes"], "box")} '
                   f'({summary["ignored_boxes"]} crowd/ignored left out), '
                   f'{plural(summary["detections"], "detection")}. '
                   '<span id="loaded" class="note"></span></p>')
        if report.get('coco'):
            coco = report['coco']
            out.append('<p class="note">COCO evaluator (the numbers '
                       'tools/test.py prints; "-": no box of that size, '
                       'which pycocotools reports as -1):</p>')
            # -1 is pycocotools' "undefined": shown as every table shows a
            # missing value
            out.append(table(['metric', 'value'],
                             ((name, None if value == -1 else value)
                              for name, value in zip(coco['names'],
                                                     coco['values'])),
                             False))
        best = summary['best_f1']
        out.append(f'<p>Best F1 over all classes (IoU {thr["f1_iou"]}): '
                   f'<b>{fmt(best["f1"])}</b> at score &ge; '
                   f'<b>{fmt(best["threshold"])}</b> (precision '
                   f'{fmt(best["precision"])}, recall '
                   f'{fmt(best["recall"])}). This threshold is the one the '
                   'confusion matrix and the galleries use.</p>')
        return '\n'.join(out)
