"""Errors of the cloud aggregator, and the HTTP status each becomes (see app.py).

    CloudError
     +-- BadBatch             the request body is not an acceptable v1 batch
     |    +-- UnreadableBatch     not gzip, not JSON, or an unknown Content-Encoding    400
     |    +-- InvalidBatch        JSON that breaks the schema (names the field)         422
     |    +-- BatchTooLarge       over max_body_bytes, before or after decompression    413
     +-- AuthError            no bearer token, or one unknown or revoked                401
     |    +-- Forbidden           a known credential whose role does not allow this     403
     |         +-- EnrollmentRefused  a wrong, used or expired enrollment code      403
     +-- StoreError           storage failed; nothing of the request was kept           503
          +-- StoreBusy           the write queue is full: retry later                  503

Routes raise these; app.py turns each into its status and a JSON ``{"detail": message}``.
"""


class CloudError(Exception):
    """Anything the aggregator refuses or fails to do."""


class BadBatch(CloudError):
    """The request body is not an acceptable batch."""


class UnreadableBatch(BadBatch):
    """Bytes that cannot be read as a JSON document."""


class InvalidBatch(BadBatch):
    """A JSON document that breaks the batch schema."""


class BatchTooLarge(BadBatch):
    """A body over the configured size limit."""


class AuthError(CloudError):
    """The request does not carry a credential we know and accept."""


class Forbidden(AuthError):
    """The credential is valid but its role (or gateway, or departments) does not allow this."""


class EnrollmentRefused(Forbidden):
    """An enrollment code that is wrong, already used, or expired."""


class StoreError(CloudError):
    """The store failed; the transaction was rolled back."""


class StoreBusy(StoreError):
    """The store's write queue is full."""
