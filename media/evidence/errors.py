"""Errors of evidence intake. Each carries a message meant for the person who submitted the
file, details that help them (the offset to resume from), and the HTTP status that fits; the
hearing server turns them into its own domain errors."""

from __future__ import annotations

from typing import Any


class EvidenceError(Exception):
    http_status = 400
    code = "evidence_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


class UploadNotFound(EvidenceError):
    http_status = 404
    code = "upload_not_found"


class OffsetMismatch(EvidenceError):
    """The client's offset is not where the server's copy ends; it should ask for the status
    and resume from ``offset``."""
    http_status = 409
    code = "offset_mismatch"


class UploadBusy(EvidenceError):
    """Another request is writing to the same upload right now (e.g. a retried request while
    the first one is still draining)."""
    http_status = 423
    code = "upload_busy"


class UploadTooLarge(EvidenceError):
    http_status = 413
    code = "too_large"


class UploadIncomplete(EvidenceError):
    http_status = 409
    code = "upload_incomplete"


class HashMismatch(EvidenceError):
    """The bytes received do not hash to what the client declared: the upload is discarded and
    must be sent again."""
    http_status = 422
    code = "hash_mismatch"


class InsufficientStorage(EvidenceError):
    http_status = 507
    code = "insufficient_storage"


class EvidenceRejected(EvidenceError):
    """The file is not acceptable as audio/video evidence (wrong type, damaged, absurd)."""
    http_status = 422
    code = "rejected"


class TranscodeFailed(EvidenceError):
    http_status = 500
    code = "transcode_failed"


class QueueFull(EvidenceError):
    """The background transcoding queue is full; nothing is lost (the original is stored) and
    the job can be submitted again later."""
    http_status = 503
    code = "queue_full"
