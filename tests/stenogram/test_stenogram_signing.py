"""Users' keys at rest, the secretary-then-judge workflow, locking and new versions."""

import json
import os
import stat

import pytest

from stenogram.revisions import Transcript
from stenogram.segments import segment_from_final
from stenogram.signing import (Ed25519Signer, KeyProtection, SigningError, Signer,
                               create_user_key, load_user_key, public_key_info_of)
from stenogram.version import (AWAITING_JUDGE, DRAFT, SIGNED, WorkflowError, build_version,
                               needs_new_version, sign_version, signature_problems,
                               signature_status)

FAST = KeyProtection(n=2 ** 12)  # the default (2^15) is for production; tests need speed


def test_user_key_file_is_encrypted_private_and_needs_the_passphrase(tmp_path):
    path = tmp_path / "keys" / "u-judge.json"
    s = create_user_key(path, "көктем-2026", owner="judge", protection=FAST)
    assert isinstance(s, Signer)
    raw = path.read_text()
    assert s.private_seed().hex() not in raw and "ciphertext" in raw
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_user_key(path, "көктем-2026")
    assert again.key_id == s.key_id and again.sign(b"x") == s.sign(b"x")
    assert public_key_info_of(path) == s.public_key_info()
    with pytest.raises(SigningError, match="passphrase"):
        load_user_key(path, "wrong")
    with pytest.raises(SigningError):
        create_user_key(path, "again", protection=FAST)  # never overwrites a key
    # swapping the public key in the file (to pass off another key) breaks the file
    rec = json.loads(raw)
    rec["public_key"] = Ed25519Signer.generate().public_key_info()["public_key"]
    path.write_text(json.dumps(rec))
    with pytest.raises(SigningError):
        load_user_key(path, "көктем-2026")


def _version(t, previous=None):
    return build_version(hearing={"id": "h1", "court": "Суд"}, participants=[
        {"id": "p-judge", "name": "Әлібек", "role": "judge"}], segments=t.segments(),
        revisions_head=t.head(), recordings=[{"sha256": "ab" * 32, "size": 1,
                                              "source_id": "mic-1", "start_ms": 0}],
        previous=previous)


def test_secretary_signs_then_judge_then_locked_and_a_correction_needs_a_new_version():
    t = Transcript()
    t.add_machine_segment(segment_from_final({"source_id": "mic-1", "start_ms": 0,
                                              "end_ms": 900, "text": "Ашық"}, speaker="p-judge"))
    v1 = _version(t)
    sec, judge = Ed25519Signer.generate(), Ed25519Signer.generate()
    keys = {k.key_id: k.public_key_info() for k in (sec, judge)}
    sigs = []
    assert signature_status(v1, sigs) == DRAFT
    with pytest.raises(WorkflowError, match="secretary signs before judge"):
        sign_version(v1, judge, role="judge", user_id="j", name="J", signatures=sigs)
    sigs.append(sign_version(v1, sec, role="secretary", user_id="s", name="S", signatures=sigs))
    assert signature_status(v1, sigs) == AWAITING_JUDGE
    with pytest.raises(WorkflowError):
        sign_version(v1, sec, role="secretary", user_id="s", name="S", signatures=sigs)
    sigs.append(sign_version(v1, judge, role="judge", user_id="j", name="J", signatures=sigs))
    assert signature_status(v1, sigs) == SIGNED
    assert signature_problems(v1, sigs, keys) == []
    with pytest.raises(WorkflowError, match="locked|already"):
        sign_version(v1, judge, role="judge", user_id="j", name="J", signatures=sigs)
    assert not needs_new_version(v1, t.head())
    t.edit_text(t.segments()[0].segment_id, "Жабық", author="s")
    assert needs_new_version(v1, t.head())
    v2 = _version(t, previous=v1)
    assert v2.number == 2 and v2.document["previous_sha256"] == v1.sha256
    assert signature_status(v2, sigs) == DRAFT  # v1's signatures do not carry over
    # the judge's statement countersigns the secretary's: reordering or dropping it is caught
    assert signature_problems(v1, sigs[1:], keys)
    assert signature_problems(v1, sigs[::-1], keys)


def test_server_key_persists_and_is_private(tmp_path):
    from stenogram.signing import load_or_create_server_key
    path = tmp_path / "server.pem"
    a = load_or_create_server_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_server_key(path).key_id == a.key_id
    enc = tmp_path / "server-enc.json"
    b = load_or_create_server_key(enc, "secret-from-vault")
    assert load_or_create_server_key(enc, "secret-from-vault").key_id == b.key_id
    with pytest.raises(SigningError):
        load_or_create_server_key(enc, "wrong")


def test_a_private_file_is_replaced_whole_and_never_readable_by_others(tmp_path):
    from stenogram.files import write_private
    path = tmp_path / "secret"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    old_umask = os.umask(0)
    try:
        write_private(path, b"new")
    finally:
        os.umask(old_umask)
    assert path.read_bytes() == b"new" and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(TypeError):
        write_private(path, "not bytes")  # the write fails half-way: the old file stays
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no temp file left behind


class EcdsaP256Signer:
    """A second algorithm plugged in from outside the package, the way a CMS/CAdES signer on a
    national-PKI token would be: implement Signer, register a verifier; no caller changes."""
    algorithm = "test-ecdsa-p256-sha256"

    def __init__(self):
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        import hashlib
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._pub = self._key.public_key().public_bytes(Encoding.DER,
                                                       PublicFormat.SubjectPublicKeyInfo)
        self.key_id = hashlib.sha256(self._pub).hexdigest()

    def public_key_info(self):
        import base64
        return {"algorithm": self.algorithm, "key_id": self.key_id,
                "public_key": base64.b64encode(self._pub).decode(), "owner": "PKI judge"}

    def sign(self, data):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))


def _verify_ecdsa(info, data, signature):
    import base64
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    try:
        load_der_public_key(base64.b64decode(info["public_key"])).verify(
            signature, data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def test_another_signature_algorithm_plugs_in_without_touching_callers():
    from stenogram.signing import register_verifier
    register_verifier(EcdsaP256Signer.algorithm, _verify_ecdsa)
    t = Transcript()
    t.add_machine_segment(segment_from_final({"source_id": "mic-1", "start_ms": 0,
                                              "end_ms": 900, "text": "Ашық"}, speaker="p-judge"))
    v = _version(t)
    sec, judge = Ed25519Signer.generate(), EcdsaP256Signer()
    sigs = [sign_version(v, sec, role="secretary", user_id="s", name="S")]
    sigs.append(sign_version(v, judge, role="judge", user_id="j", name="J", signatures=sigs))
    keys = {k.key_id: k.public_key_info() for k in (sec, judge)}
    assert signature_problems(v, sigs, keys) == []
    sigs[1]["statement"]["signed_at"] = "2030-01-01T00:00:00Z"
    assert any("does not verify" in p for p in signature_problems(v, sigs, keys))


def test_two_step_signing_for_a_signer_outside_the_server():
    """The statement goes to the user's token (e.g. in the browser), the signature comes back
    and is checked before it is stored."""
    from stenogram.canonical import canonical_bytes
    from stenogram.version import signature_record, signing_statement
    t = Transcript()
    t.add_machine_segment(segment_from_final({"source_id": "mic-1", "start_ms": 0,
                                              "end_ms": 900, "text": "Ашық"}, speaker="p-judge"))
    v = _version(t)
    token = Ed25519Signer.generate()  # stands for the key that never leaves the token
    stmt = signing_statement(v, role="secretary", user_id="s", name="S")
    sig = token.sign(canonical_bytes(stmt))
    rec = signature_record(stmt, algorithm=token.algorithm, key_id=token.key_id, signature=sig,
                           public_key_info=token.public_key_info())
    assert signature_status(v, [rec]) == AWAITING_JUDGE
    with pytest.raises(WorkflowError, match="does not verify"):
        signature_record(stmt, algorithm=token.algorithm, key_id=token.key_id,
                         signature=token.sign(b"something else"),
                         public_key_info=token.public_key_info())
