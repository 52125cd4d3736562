"""Errors of the sensor simulator.

    SimError
     +-- SimConfigError     bad settings or arguments (names the field)
     +-- LinkError          a transport could not reach or talk to its peer (the broker)

Third-party errors (aiomqtt, OSError) are converted to these once, in the transport adapters.
"""

from __future__ import annotations


class SimError(Exception):
    """Base of every error the simulator raises on purpose."""


class SimConfigError(SimError):
    """Bad settings or arguments; ``field`` names the offending one when known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LinkError(SimError):
    """A transport could not connect to, or lost, its peer."""
