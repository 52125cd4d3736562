"""Errors of the anomaly runtime.

AnomalyError
 +-- ModelError         the model or its card cannot be used
 |    +-- ModelNotFound the model file or its card is missing
 |    +-- ModelInvalid  the files exist but do not match (hash, features, format)
 +-- ReplayError        a replay input cannot be read (names the file and line)
"""


class AnomalyError(Exception):
    """Base of every error the anomaly runtime raises on purpose."""


class ModelError(AnomalyError):
    """The model cannot be used."""


class ModelNotFound(ModelError):
    """The model file or its card is missing."""


class ModelInvalid(ModelError):
    """The model and its card disagree, or the card is not one we understand."""


class ReplayError(AnomalyError):
    """A replay input is malformed."""
