"""The evaluation report (HTML, JSON, CSVs): a list of sections over one
matching pass; see :mod:`.driver` and the section protocol in
:mod:`.base`."""
from .base import ReportContext, Section, Thresholds, box_item
from .driver import (
                     build_report,
                     coco_numbers,
                     default_sections,
                     evaluated_metric,
                     predictions_from_results,
                     report_from_predictions,
)
from .html import Page, render_html
from .writer import write_report

__all__ = [
    'Page', 'ReportContext', 'Section', 'Thresholds', 'box_item',
    'build_report', 'coco_numbers', 'default_sections', 'evaluated_metric',
    'predictions_from_results', 'render_html', 'report_from_predictions',
    'write_report'
]
