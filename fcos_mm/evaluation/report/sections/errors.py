"""TIDE's error breakdown: each type's count and the AP50 gained by fixing
it alone, overall and per class (:mod:`fcos_mm.evaluation.functional.tide`).
"""
from fcos_mm.visualization.svg import bar_chart

from ... import functional as F
from ..base import ReportContext, Section, to_float
from ..html import fmt, table


class ErrorsSection(Section):
    key = 'errors'
    title = 'Error breakdown'

    def present(self, report: dict) -> bool:
        return 'tide' in report

    def build(self, ctx: ReportContext) -> dict:
        data = ctx.data
        tide = F.tide_breakdown(data, ctx.matching, ctx.errors,
                                ctx.thresholds.tide_foreground)
        return dict(tide=dict(
            ap50=to_float(tide['ap']), counts=tide['counts'],
            dap={k: to_float(v) for k, v in tide['dap'].items()},
            per_class=[dict(name=name, ap50=to_float(tide['class_ap'][label]),
                            **{k: to_float(v[label])
                               for k, v in tide['class_dap'].items()})
                       for label, name in enumerate(data.classes)]))

    def tables(self, report: dict) -> list:
        tide = report['tide']
        keys = ['name', 'ap50'] + list(F.TIDE_TYPES)
        return [('tide.csv', keys,
                 [['all', tide['ap50']] +
                  [tide['dap'][key] for key in F.TIDE_TYPES]] +
                 [[row[key] for key in keys] for row in tide['per_class']])]

    def html(self, report: dict, page) -> str:
        thr = report['thresholds']['tide']
        tide = report['tide']
        return (
            '<h2 id="errors">Error breakdown (TIDE)</h2><p class="note">'
            'dAP: AP50 gained if that error type alone were fixed '
            f'(foreground IoU {thr["foreground"]}, background IoU '
            f'{thr["background"]}); base AP50 {fmt(tide["ap50"])}.</p>\n' +
            bar_chart([(f'{F.TIDE_NAMES[key]} ({tide["counts"][key]})',
                        tide['dap'][key]) for key in F.TIDE_TYPES],
                      'dAP50 by error type (count)') + '\n' +
            table(['class', 'AP50'] + [F.TIDE_NAMES[key]
                                       for key in F.TIDE_TYPES],
                  ([row['name'], row['ap50']] +
                   [row[key] for key in F.TIDE_TYPES]
                   for row in tide['per_class'])))
