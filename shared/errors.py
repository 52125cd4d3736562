"""Errors raised by the wire contract.

    ContractError            anything that does not follow the v1 contract
     +-- DecodeError         bytes that cannot be read (not JSON, bad frame, bad checksum, too big)
     +-- SchemaError         readable, but a field is missing, of the wrong type or out of range

Each carries a short machine-friendly ``reason`` code (used for counters and dead-letter
records) and a human message naming the field.
"""


class ContractError(ValueError):
    """Input that does not follow the citytwin v1 contract."""

    reason = "contract"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class DecodeError(ContractError):
    """Bytes that cannot be decoded at all."""

    reason = "decode"


class SchemaError(ContractError):
    """A decodable message whose content breaks the schema or the catalogue."""

    reason = "schema"
