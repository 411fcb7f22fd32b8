"""A test certificate authority made on the spot: a root, an intermediate, signing leaves (RSA
and ECDSA, one revoked, one expired), the intermediate's and root's CRLs, and detached CMS
signatures made by OpenSSL through ``cryptography`` (so the verifier is checked against an
independent signer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

NOW = datetime.now(timezone.utc)


def _name(cn: str, serial: str = "") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
             x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attrs)


def _cert(subject: x509.Name, key, issuer_name: x509.Name, issuer_key, *, ca: bool,  # noqa: ANN001
          not_before: datetime, not_after: datetime) -> x509.Certificate:
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(
             digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
             encipher_only=False, decipher_only=False), critical=True))
    return b.sign(issuer_key, hashes.SHA256())


@dataclass
class Leaf:
    cert: x509.Certificate
    key: object

    def sign(self, data: bytes, *extra: x509.Certificate) -> bytes:
        """A detached CMS over ``data`` with signed attributes, carrying this certificate and
        ``extra`` ones (the intermediate)."""
        b = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(
            self.cert, self.key, hashes.SHA256())
        for c in extra:
            b = b.add_certificate(c)
        return b.sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature,
                                     pkcs7.PKCS7Options.Binary])

    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)


@dataclass
class TestCA:
    root: x509.Certificate
    root_key: object
    inter: x509.Certificate
    inter_key: object
    leaves: dict[str, Leaf] = field(default_factory=dict)
    revoked: list[int] = field(default_factory=list)

    def leaf(self, name: str, serial: str, *, kind: str = "ecdsa", expired: bool = False) -> Leaf:
        key = (ec.generate_private_key(ec.SECP256R1()) if kind == "ecdsa"
               else rsa.generate_private_key(public_exponent=65537, key_size=2048))
        nb, na = ((NOW - timedelta(days=400), NOW - timedelta(days=30)) if expired
                  else (NOW - timedelta(days=1), NOW + timedelta(days=365)))
        leaf = Leaf(_cert(_name(name, serial), key, self.inter.subject, self.inter_key,
                          ca=False, not_before=nb, not_after=na), key)
        self.leaves[name] = leaf
        return leaf

    def revoke(self, leaf: Leaf) -> None:
        self.revoked.append(leaf.cert.serial_number)

    def inter_crl(self) -> bytes:
        """The intermediate's current CRL, listing the revoked leaves."""
        b = (x509.CertificateRevocationListBuilder().issuer_name(self.inter.subject)
             .last_update(NOW - timedelta(hours=1)).next_update(NOW + timedelta(days=7)))
        for serial in self.revoked:
            b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                          .revocation_date(NOW - timedelta(minutes=30)).build())
        return b.sign(self.inter_key, hashes.SHA256()).public_bytes(Encoding.DER)

    def root_crl(self) -> bytes:
        return (x509.CertificateRevocationListBuilder().issuer_name(self.root.subject)
                .last_update(NOW - timedelta(hours=1)).next_update(NOW + timedelta(days=30))
                .sign(self.root_key, hashes.SHA256()).public_bytes(Encoding.DER))

    def ocsp(self, leaf: Leaf) -> bytes:
        """The intermediate's OCSP answer about ``leaf`` (revoked if it was revoked)."""
        revoked = leaf.cert.serial_number in self.revoked
        b = ocsp.OCSPResponseBuilder().add_response(
            cert=leaf.cert, issuer=self.inter, algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=NOW - timedelta(minutes=5), next_update=NOW + timedelta(hours=4),
            revocation_time=NOW - timedelta(minutes=30) if revoked else None,
            revocation_reason=None).responder_id(ocsp.OCSPResponderEncoding.HASH, self.inter)
        return b.sign(self.inter_key, hashes.SHA256()).public_bytes(Encoding.DER)

    def crls(self) -> list[bytes]:
        return [self.inter_crl(), self.root_crl()]

    def root_pem(self) -> bytes:
        return self.root.public_bytes(Encoding.PEM)


def make_ca(name: str = "Test Court Root") -> TestCA:
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = _cert(_name(name), root_key, _name(name), root_key, ca=True,
                 not_before=NOW - timedelta(days=3650), not_after=NOW + timedelta(days=3650))
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter = _cert(_name(f"{name} Signing CA"), inter_key, root.subject, root_key, ca=True,
                  not_before=NOW - timedelta(days=1000), not_after=NOW + timedelta(days=1000))
    return TestCA(root, root_key, inter, inter_key)
