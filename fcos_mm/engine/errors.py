"""Errors that stop training on purpose, each with a message that says what
happened, what is safe on disk and what to try. ``tools/train.py`` prints
the message and exits with status 1 instead of a traceback."""


class TrainingStopped(RuntimeError):
    """Training was stopped deliberately; ``str(error)`` is for the user."""


class NonFiniteTrainingError(TrainingStopped):
    """Too many optimizer steps were skipped for non-finite values."""


class CheckpointSaveError(TrainingStopped):
    """A checkpoint could not be written; the previous ones are intact."""


class NonFiniteCheckpointError(CheckpointSaveError):
    """A save was refused because the state to save holds NaN or inf."""
