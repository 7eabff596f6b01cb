"""The generic report's sections, one class a file, and
:func:`default_sections`: the one list of them, in page order."""
from typing import List, Sequence

from ..base import Section
from .classes import ClassesSection
from .compare import CompareSection
from .confusion import ConfusionSection
from .curves import CurvesSection
from .errors import ErrorsSection
from .galleries import GalleriesSection
from .summary import SummarySection
from .training import TrainingSection


def default_sections(extra: Sequence[Section] = ()) -> List[Section]:
    """The report's sections in page order (the one list): the generic
    ones, ``extra`` (a model's diagnostics) after the galleries, then the
    run's training curves and the comparison."""
    return [SummarySection(), ClassesSection(), CurvesSection(),
            ConfusionSection(), ErrorsSection(), GalleriesSection(),
            *extra, TrainingSection(), CompareSection()]


__all__ = [
    'ClassesSection', 'CompareSection', 'ConfusionSection', 'CurvesSection',
    'ErrorsSection', 'GalleriesSection', 'SummarySection', 'TrainingSection',
    'default_sections'
]
