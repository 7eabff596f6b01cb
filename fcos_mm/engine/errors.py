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


class TrainingPreempted(TrainingStopped):
    """A stop signal ended training after a checkpoint was saved.

    Args:
        message (str): What was saved and how to resume.
        exit_code (int): The process's exit status (128 + the signal
            number; see :mod:`fcos_mm.engine.preemption`).
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
