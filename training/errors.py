"""Errors of the training package.

TrainingError
 +-- DataError      a dataset folder is missing, malformed or empty (names the file)
 +-- ExportError    the exported or quantised model failed its checks
"""


class TrainingError(Exception):
    """Base of every error the training package raises on purpose."""


class DataError(TrainingError):
    """A dataset cannot be used."""


class ExportError(TrainingError):
    """An exported model failed a check (for example int8 disagreeing with float)."""
