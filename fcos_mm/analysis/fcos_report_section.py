"""The FCOS diagnostics as a section of the evaluation report.

The generic report (:mod:`fcos_mm.evaluation.report`) knows no model; the
tools hand it this section (``extra_sections=[FCOSDiagnosticsSection...]``).
It runs the training assigner on the evaluated boxes as
:mod:`fcos_mm.analysis.fcos_diagnostics` describes, and is present only
when every prediction record says its network input (``img_shape``; the
``scale_factor`` defaults to 1).
"""
from typing import List, Optional, Sequence

import numpy as np

from fcos_mm.evaluation.report import ReportContext, Section, box_item
from fcos_mm.evaluation.report.html import esc, table

from .fcos_diagnostics import (
    REASON_NAMES,
    REASONS,
    assign_levels,
    assigner_from_config,
    fcos_diagnostics,
)


class FCOSDiagnosticsSection(Section):
    """Levels, recall per level and the unlearnable boxes of an FCOS model.

    Args:
        assigner: The training ``FCOSPointAssigner``.
        strides (Sequence[int]): The head's strides.
        pad_size_divisor (int): The data preprocessor's padding.
    """
    key = 'fcos'
    title = 'FCOS diagnostics'

    def __init__(self, assigner, strides: Sequence[int],
                 pad_size_divisor: int = 32) -> None:
        self.assigner = assigner
        self.strides = list(strides)
        self.pad_size_divisor = pad_size_divisor

    @classmethod
    def from_config(cls, cfg) -> 'FCOSDiagnosticsSection':
        """The section of a config's model (its training assigner,
        strides and padding)."""
        assigner, strides, pad = assigner_from_config(cfg)
        return cls(assigner, strides, pad)

    @staticmethod
    def _inputs(predictions: Optional[Sequence[dict]]):
        """``(I, 2)`` input shapes and ``(I, 2)`` scale factors of the
        prediction records, or None when one lacks ``img_shape``."""
        if not predictions or any(pred.get('img_shape') is None
                                  for pred in predictions):
            return None
        img_shapes = np.array([pred['img_shape'][:2]
                               for pred in predictions])
        scales = np.array([
            pred['scale_factor'] if pred.get('scale_factor') is not None
            else (1.0, 1.0) for pred in predictions], np.float64)
        return img_shapes, scales

    def build(self, ctx: ReportContext) -> dict:
        inputs = self._inputs(ctx.predictions)
        if inputs is None:
            return {}
        data = ctx.data
        assignment = assign_levels(data, *inputs, self.assigner,
                                   self.strides, self.pad_size_divisor)
        fcos = fcos_diagnostics(data, ctx.matching, assignment,
                                self.strides, self.assigner.regress_ranges,
                                num_examples=ctx.num_gallery)
        fcos['reasons'] = {name: REASON_NAMES[name] for name in REASONS}
        fcos['examples'] = [
            box_item(data, gt, kind='gt',
                     note=REASON_NAMES[assignment['reason'][gt]])
            for gt in fcos['examples']]
        return dict(fcos=fcos)

    def tables(self, report: dict) -> List[tuple]:
        fcos = report['fcos']
        level_keys = ['level', 'stride', 'regress_range', 'boxes',
                      'recalled', 'recall', 'median_side']
        lost_keys = ['name', 'boxes', 'total'] + list(REASONS)
        lost = fcos['unlearnable']
        return [
            ('fcos_levels.csv', level_keys,
             ([row[key] for key in level_keys] for row in fcos['levels'])),
            ('fcos_unlearnable.csv', ['group'] + lost_keys,
             [['class'] + [row[key] for key in lost_keys]
              for row in lost['per_class']] +
             [['size'] + [row[key] for key in lost_keys]
              for row in lost['per_size']])]

    def html(self, report: dict, page) -> str:
        fcos = report['fcos']
        out = ['<h2 id="fcos">FCOS diagnostics</h2><p class="note">The '
               'training assigner on the evaluated boxes (scaled to the '
               'network input): the level holding most of each box\'s '
               'positive points, and recall at IoU 0.5 per level. "none": '
               'boxes no level can learn.</p>']
        out.append(table(['level', 'stride', 'regress range', 'boxes',
                          'recalled', 'recall', 'median sqrt(area)'],
                         ([row['level'], row['stride'],
                           None if row['regress_range'] is None else
                           '{:g} - {:g}'.format(*row['regress_range']),
                           row['boxes'], row['recalled'], row['recall'],
                           row['median_side']] for row in fcos['levels']),
                         False, 2))
        lost = fcos['unlearnable']
        out.append(f'<p>Unlearnable: <b>{lost["total"]}</b> of '
                   f'{fcos["total"]} boxes: ' + ', '.join(
                       f'{count} {esc(fcos["reasons"][name])}'
                       for name, count in lost['per_reason'].items()) +
                   '.</p>')
        header = ['group', 'boxes', 'unlearnable'] + [
            fcos['reasons'][name] for name in REASONS]
        out.append(table(header, ([row['name'], row['boxes'], row['total']]
                                  + [row[name] for name in REASONS]
                                  for row in lost['per_size'] +
                                  lost['per_class'])))
        out.append('<h3>Examples (largest first)</h3>')
        out.append(page.gallery(fcos['examples'],
                                lambda item: f'{esc(item["label"])}: '
                                f'{esc(item["note"])}'))
        return ''.join(out)
