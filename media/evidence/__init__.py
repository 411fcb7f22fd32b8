"""Evidence intake below the HTTP layer: resumable uploads hashed while streaming, validation
with PyAV, content-addressed storage, playback copies and fixity audits. The hearing server
adds the HTTP protocol, roles and the custody log; everything here is plain asyncio +
executors."""

from .asr_audio import evidence_chunks, extract_audio_16k, iter_audio_16k
from .errors import (EvidenceError, EvidenceRejected, HashMismatch, InsufficientStorage,
                     OffsetMismatch, QueueFull, TranscodeFailed, UploadBusy, UploadIncomplete,
                     UploadNotFound, UploadTooLarge)
from .fixity import Finding, FixityReport, check as check_fixity, check_files
from .probe import MediaInfo, StreamInfo, probe
from .transcode import PREVIEW_OPTIONS, Derivative, TranscodeJob, TranscodeOptions, Transcoder
from .upload import Receipt, UploadManager, UploadOptions, UploadStatus
from .validate import ValidationLimits, validate_file

__all__ = [
    "PREVIEW_OPTIONS", "Derivative", "EvidenceError", "EvidenceRejected", "Finding", "FixityReport", "HashMismatch",
    "InsufficientStorage", "MediaInfo", "OffsetMismatch", "QueueFull", "Receipt", "StreamInfo",
    "TranscodeFailed", "TranscodeJob", "TranscodeOptions", "Transcoder", "UploadBusy",
    "UploadIncomplete", "UploadManager", "UploadNotFound", "UploadOptions", "UploadStatus",
    "UploadTooLarge", "ValidationLimits", "check_files", "check_fixity", "evidence_chunks",
    "extract_audio_16k", "iter_audio_16k", "probe", "validate_file",
]
