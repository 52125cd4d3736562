"""Errors of the gateway agent.

EdgeError
 +-- ConfigError        the settings file or environment is wrong (names the field)
 +-- SourceError        a sensor transport failed
 |    +-- AuthError     the broker refused our credentials: retrying will not help
 +-- StoreError         the local SQLite store failed
 +-- UplinkError        the cloud refused or could not be reached
      +-- Rejected      the cloud answered 4xx: the batch will never be accepted as is
"""


class EdgeError(Exception):
    """Base of every error the agent raises on purpose."""


class ConfigError(EdgeError):
    """Bad settings."""


class SourceError(EdgeError):
    """A sensor transport failed."""


class AuthError(SourceError):
    """Credentials refused by the broker."""


class StoreError(EdgeError):
    """The local store failed."""


class UplinkError(EdgeError):
    """The cloud could not take a batch now; try again later."""


class Rejected(UplinkError):
    """The cloud rejected a batch for good (4xx)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"cloud rejected the batch ({status}): {detail}")
        self.status = status
        self.detail = detail
