"""The legal record: segments, revisions, canonical form, signing, verification, exports.

Database-free: the hearing server stores the plain dicts these functions return and hands them
back. The names below are the whole surface the server needs; see each module for why."""

from .bundle import BundleError, read_bundle, write_bundle
from .canonical import canonical_bytes, canonical_sha256
from .merkle import audit_leaf, consistency_proof, inclusion_proof, sign_tree_head
from .revisions import Revision, RevisionError, Transcript
from .segments import Segment, SegmentError, Word, segment_from_final
from .signing import (Ed25519Signer, KeyProtection, Signer, SigningError, create_user_key,
                      load_or_create_server_key, load_user_key, public_key_info_of,
                      register_verifier, verify_signature)
from .verify import Check, format_report, verify_bundle
from .version import (StenogramVersion, WorkflowError, build_version, is_locked,
                      needs_new_version, sign_version, signature_record, signature_status,
                      signing_statement)

__all__ = [
    "BundleError", "read_bundle", "write_bundle", "canonical_bytes", "canonical_sha256",
    "audit_leaf", "consistency_proof", "inclusion_proof", "sign_tree_head", "Revision",
    "RevisionError", "Transcript", "Segment", "SegmentError", "Word", "segment_from_final",
    "Ed25519Signer", "KeyProtection", "Signer", "SigningError", "create_user_key",
    "load_or_create_server_key", "load_user_key", "public_key_info_of", "register_verifier",
    "verify_signature", "Check", "format_report", "verify_bundle", "StenogramVersion",
    "WorkflowError", "build_version", "is_locked", "needs_new_version", "sign_version",
    "signature_status", "signing_statement", "signature_record",
]
