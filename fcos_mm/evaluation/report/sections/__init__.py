"""The generic report's sections, one class a file, in page order."""
from .classes import ClassesSection
from .compare import CompareSection
from .confusion import ConfusionSection
from .curves import CurvesSection
from .errors import ErrorsSection
from .galleries import GalleriesSection
from .summary import SummarySection
from .training import TrainingSection

__all__ = [
    'ClassesSection', 'CompareSection', 'ConfusionSection', 'CurvesSection',
    'ErrorsSection', 'GalleriesSection', 'SummarySection', 'TrainingSection'
]
