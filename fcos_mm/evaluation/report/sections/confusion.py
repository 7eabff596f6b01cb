"""The confusion matrix at the report's score threshold, each detection
and each box counted once
(:mod:`fcos_mm.evaluation.functional.confusion`)."""
import numpy as np

from fcos_mm.visualization.svg import heatmap

from ..base import ReportContext, Section, to_floats
from ..html import fmt


class ConfusionSection(Section):
    key = 'confusion'
    title = 'Confusion matrix'

    def build(self, ctx: ReportContext) -> dict:
        data = ctx.data
        confusion = ctx.confusion
        return dict(confusion=dict(
            labels=list(data.classes) + ['background'],
            counts=confusion['counts'].tolist(),
            normalized=[to_floats(np.round(row, 4))
                        for row in confusion['normalized']],
            ignored=confusion['ignored']))

    def tables(self, report: dict) -> list:
        conf = report['confusion']
        labels = conf['labels']
        return [(f'confusion_{name}.csv', ['true \\ predicted'] + labels,
                 ([label] + row for label, row in zip(labels, conf[name])))
                for name in ('counts', 'normalized')]

    def html(self, report: dict, page) -> str:
        thr = report['thresholds']['confusion']
        conf = report['confusion']
        return (
            '<h2 id="confusion">Confusion matrix</h2><p class="note">'
            f'Detections with score &ge; {fmt(thr["score"])}, IoU &ge; '
            f'{thr["iou"]}; each detection and each box is counted once: '
            'first matched within its class, then to a box of another '
            'class; unmatched detections are the background row, unmatched '
            'boxes the background column (the missed boxes of the '
            'galleries). Colour: fraction of the row. '
            f'{conf["ignored"]} detections on crowd/ignored boxes left '
            'out.</p>\n<div class="grid">' + heatmap(
                conf['labels'], conf['counts'], conf['normalized'],
                'counts (colour: row-normalised)') + heatmap(
                    conf['labels'], conf['counts'], conf['normalized'],
                    'normalised by row (true class)', show_fraction=True)
            + '</div>')
