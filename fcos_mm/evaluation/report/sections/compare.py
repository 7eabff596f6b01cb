"""Comparison with another run on the same images: per-class AP change
and the images fixed or broken (image AP50 up or down by 0.5 or more)."""
import numpy as np

from ... import functional as F
from ..base import ReportContext, Section, to_float
from ..html import esc, fmt, plural, table


class CompareSection(Section):
    key = 'compare'
    title = 'Comparison'

    def present(self, report: dict) -> bool:
        return bool(report.get('compare'))

    def build(self, ctx: ReportContext) -> dict:
        other = ctx.compare
        if other is None:
            return {}
        data, aps, image_aps = ctx.data, ctx.aps, ctx.image_aps
        num = ctx.num_gallery
        if not np.array_equal(other.img_ids, data.img_ids):
            raise ValueError('--compare: the two runs evaluated different '
                             'images')
        other_matching = F.match_detections(
            other, max_dets=ctx.thresholds.max_dets)
        other_aps = F.class_ap(other, other_matching)
        other_image = F.image_ap(other, other_matching,
                                 ctx.thresholds.tide_foreground)
        delta = image_aps - other_image
        finite = np.flatnonzero(np.isfinite(delta))
        # (pycocotools' precision 1 is 1 - 2e-16: a tolerance)
        fixed = finite[delta[finite] >= 0.5 - 1e-9]
        broken = finite[delta[finite] <= -0.5 + 1e-9]
        fixed = fixed[np.argsort(-delta[fixed], kind='stable')]
        broken = broken[np.argsort(delta[broken], kind='stable')]

        def image_rows(images):
            return [dict(image=int(i), ap50=to_float(image_aps[i]),
                         other_ap50=to_float(other_image[i]))
                    for i in images[:num]]

        return dict(compare=dict(
            classes=[dict(name=name, ap=to_float(np.mean(aps[:, label])),
                          other_ap=to_float(np.mean(other_aps[:, label])),
                          change=to_float(np.mean(aps[:, label]) -
                                          np.mean(other_aps[:, label])))
                     for label, name in enumerate(data.classes)],
            map=to_float(np.nanmean(aps)),
            other_map=to_float(np.nanmean(other_aps)),
            num_fixed=int(len(fixed)), num_broken=int(len(broken)),
            fixed=image_rows(fixed), broken=image_rows(broken)))

    def tables(self, report: dict) -> list:
        return [('compare_classes.csv', ['name', 'ap', 'other_ap', 'change'],
                 ([row['name'], row['ap'], row['other_ap'], row['change']]
                  for row in report['compare']['classes']))]

    def html(self, report: dict, page) -> str:
        compare = report['compare']
        # what was compared with: the file the tool was given
        other = report['meta'].get('compare')
        other = f'<code>{esc(other)}</code>' if other else 'the other run'
        out = ['<h2 id="compare">Comparison</h2>',
               f'<p>Compared with {other} on the same '
               f'{plural(len(report["images"]), "image")}: mAP '
               f'{fmt(compare["map"])} here vs {fmt(compare["other_map"])} '
               f'there; {plural(compare["num_fixed"], "image")} fixed, '
               f'{compare["num_broken"]} broken (image AP50 up / down by '
               '0.5 or more).</p>']
        out.append(table(['class', 'AP', 'other AP', 'change'],
                         ([row['name'], row['ap'], row['other_ap'],
                           row['change']] for row in compare['classes'])))
        for key, title in (('fixed', 'Fixed'), ('broken', 'Broken')):
            out.append(f'<h3>{title}</h3>')
            out.append(page.gallery(
                compare[key], lambda item: f'AP50 {fmt(item["ap50"])} '
                f'(was {fmt(item["other_ap50"])})'))
        return ''.join(out)
