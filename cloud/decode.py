"""Request body -> typed Batch: bounded gzip decompression, then schema validation.

Every failure raises a BadBatch whose message says what is wrong and where, so an installer
reading a gateway's log can fix it without the cloud's source.
"""

from __future__ import annotations

import zlib
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from cloud.errors import BatchTooLarge, InvalidBatch, UnreadableBatch
from shared.wire.uplink import Batch

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer, not raw deflate or zlib
_MAX_ERRORS_SHOWN = 3
_MAX_INPUT_SHOWN = 40


def decode_batch(body: bytes, content_encoding: str | None, limit: int) -> Batch:
    """The batch in ``body``, decompressed if ``content_encoding`` says gzip."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        body = gunzip(body, limit)
    elif encoding != "identity":
        raise UnreadableBatch(f"Content-Encoding {encoding!r} is not supported (use gzip)")
    try:
        return Batch.model_validate_json(body)
    except ValidationError as exc:
        raise _batch_error(exc) from exc


def gunzip(data: bytes, limit: int) -> bytes:
    """One gzip member, refusing to inflate past ``limit`` bytes (a zip bomb stops here)."""
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise UnreadableBatch(f"body is not valid gzip: {exc}") from exc
    if len(out) > limit:
        raise BatchTooLarge(f"body inflates to more than {limit} bytes")
    if not inflater.eof:
        raise UnreadableBatch("body is not valid gzip: the stream is truncated")
    if inflater.unused_data:
        raise UnreadableBatch("body is not valid gzip: data follows the gzip stream")
    return out


def _batch_error(exc: ValidationError) -> UnreadableBatch | InvalidBatch:
    errors = exc.errors(include_url=False)
    if any(e["type"] in ("json_invalid", "json_type") for e in errors):
        return UnreadableBatch(f"body is not JSON: {errors[0]['msg']}")
    shown = "; ".join(_describe(e) for e in errors[:_MAX_ERRORS_SHOWN])
    more = len(errors) - _MAX_ERRORS_SHOWN
    return InvalidBatch(f"invalid batch: {shown}" + (f" (+{more} more)" if more > 0 else ""))


def _describe(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}{_got(error['input'])}"


def _got(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        return ""  # the location already says which object; echoing it back helps nobody
    text = repr(value)
    return f" (got {text[:_MAX_INPUT_SHOWN]}{'...' if len(text) > _MAX_INPUT_SHOWN else ''})"
