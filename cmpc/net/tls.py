"""Certificates for mutual TLS between parties: one project CA, one certificate per party.

Identity model. A party *is* its certificate: the party id (e.g. ``worker-3``) is the subject common name
and the only DNS name in the subjectAltName of a certificate signed by the project CA. A connection is
accepted only when the peer's certificate chains to that CA (TLS 1.3, checked by OpenSSL through Python's
:mod:`ssl`) and the id it carries is one of the session's parties (checked by :mod:`cmpc.net.tcp`). Host
names and IP addresses are deliberately *not* part of the identity: a party can move between hosts without
new certificates, and an attacker who can redirect traffic still cannot impersonate a party without its key.

Keys are ECDSA P-256. The private scalars are drawn from :class:`cmpc.rand.RandomSource` (uniform in
[1, n − 1] by rejection sampling), so ``rng=RandomSource(seed=...)`` gives reproducible keys for tests; the
default is the secure OS-keyed generator. (TLS's own ephemeral keys and ECDSA signature nonces come from
OpenSSL's CSPRNG, outside this module.) Certificate serial numbers are 159 random bits, as RFC 5280 allows.

Files written by :func:`write_keys` (private keys with mode 0600, created that way, never widened later)::

    ca.pem             the CA certificate (public; every party needs it)
    ca.key             the CA private key (0600; only needed to issue more certificates)
    <party>.pem        the party's certificate
    <party>.key        the party's private key (0600; copy it to that party's host only)

What leaks: certificates are public and name the parties; nothing about inputs.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..checks import check_int
from ..errors import ParameterError
from ..rand import RandomSource, resolve

__all__ = [
    "MAX_DAYS",
    "CredentialsError",
    "PartyCredentials",
    "check_credentials",
    "check_party_id",
    "client_context",
    "generate_ca",
    "identity_from_peercert",
    "issue_certificate",
    "load_credentials",
    "server_context",
    "write_keys",
]

#: order of the P-256 group (SEC 2, secp256r1 ``n``)
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

#: a party id is one DNS label: letters, digits and inner hyphens, at most 63 characters
_PARTY_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
#: longest certificate validity accepted (100 years); beyond it dates overflow and nothing is gained
MAX_DAYS = 36525
#: largest key or certificate file read (PEM files here are about 1 KiB)
MAX_PEM_BYTES = 64 * 1024


class CredentialsError(ParameterError):
    """A key or certificate file is missing, unreadable, malformed, of the wrong type or does not match."""


def _check_days(days: object) -> int:
    return check_int("days", days, lo=1, hi=MAX_DAYS)


def check_party_id(party: object) -> str:
    """Return ``party`` if it is a valid party id (one DNS label, ≤ 63 characters), else ParameterError."""
    if not isinstance(party, str) or not _PARTY_ID.match(party):
        raise ParameterError(
            f"party id must be 1-63 letters, digits or inner hyphens (a DNS label), got {party!r}"
        )
    return party


def _private_key(rng: RandomSource | None) -> ec.EllipticCurvePrivateKey:
    scalar = resolve(rng).randbelow(_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _serial(rng: RandomSource | None) -> int:
    return resolve(rng).randbits(159) | 1  # positive, non-zero, < 2^159 (≤ 20 octets)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def generate_ca(
    name: str = "cmpc project CA", *, days: int = 365, rng: RandomSource | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA (basicConstraints CA, pathlen 0) valid for ``days`` days (≤ :data:`MAX_DAYS`)."""
    _check_days(days)
    key = _private_key(rng)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(_serial(rng))
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_certificate(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    party: str,
    *,
    days: int = 365,
    rng: RandomSource | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A key and certificate for ``party``: CN = party id, SAN = DNS:party id (and nothing else).

    The certificate is good for both TLS server and client authentication (every party both listens and
    dials).
    """
    check_party_id(party)
    _check_days(days)
    key = _private_key(rng)
    names: list[x509.GeneralName] = [x509.DNSName(party)]
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, party)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial(rng))
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(min(now + _dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file created with mode 0600 (replacing any previous file)."""
    if path.exists() or path.is_symlink():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # in case a umask-free filesystem ignored the mode


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_keys(
    out: str | os.PathLike[str],
    parties: Iterable[str],
    *,
    days: int = 365,
    rng: RandomSource | None = None,
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None,
) -> Path:
    """Create ``out/`` with a CA (or use ``ca``) and one certificate + key per party; returns the path.

    Private keys are created with mode 0600 and the directory with 0700 when it is new.
    """
    ids = [check_party_id(p) for p in parties]
    if len(set(ids)) != len(ids):
        raise ParameterError(f"party ids must be distinct, got {ids}")
    _check_days(days)
    folder = Path(out)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    rng = resolve(rng)
    ca_key, ca_cert = ca if ca is not None else generate_ca(days=days, rng=rng)
    _write_private(folder / CA_KEY, _key_pem(ca_key))
    (folder / CA_CERT).write_bytes(_cert_pem(ca_cert))
    for party in ids:
        key, cert = issue_certificate(ca_key, ca_cert, party, days=days, rng=rng)
        _write_private(folder / f"{party}.key", _key_pem(key))
        (folder / f"{party}.pem").write_bytes(_cert_pem(cert))
    return folder


@dataclass(frozen=True)
class PartyCredentials:
    """Paths of one party's certificate, key and the CA certificate it trusts."""

    party: str
    cert: Path
    key: Path
    ca: Path

    def server_context(self) -> ssl.SSLContext:
        return server_context(self)

    def client_context(self) -> ssl.SSLContext:
        return client_context(self)


def load_credentials(keys_dir: str | os.PathLike[str], party: str) -> PartyCredentials:
    """The credentials of ``party`` in a directory made by :func:`write_keys`, validated.

    Checks, each failure a :class:`CredentialsError` naming the file and the remedy: the three files exist
    and are PEM of the right kind (an X.509 certificate, an unencrypted EC P-256 private key, a CA
    certificate with basicConstraints CA); the key is private to its owner (mode 0600); the key belongs to
    the certificate; the certificate is signed by the CA and names exactly ``party`` (CN and the one DNS
    SAN). OpenSSL then checks the chain and validity dates again at every handshake.
    """
    check_party_id(party)
    folder = Path(keys_dir)
    creds = PartyCredentials(party, folder / f"{party}.pem", folder / f"{party}.key", folder / CA_CERT)
    for what, path in (("certificate", creds.cert), ("private key", creds.key), ("CA certificate", creds.ca)):
        if not path.is_file():
            raise CredentialsError(f"{what} for {party!r} not found at {path} (run `cmpc keys` first)")
    mode = creds.key.stat().st_mode & 0o777
    if mode & 0o077:
        raise CredentialsError(
            f"private key {creds.key} is accessible to group/others (mode {oct(mode)}); chmod 600 it"
        )
    check_credentials(creds)
    return creds


def _read_pem(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_PEM_BYTES:
            raise CredentialsError(f"{what} {path} is {size} bytes, not a PEM file (limit {MAX_PEM_BYTES})")
        return path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def _load_cert(path: Path, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read_pem(path, what))
    except ValueError as exc:
        raise CredentialsError(
            f"{what} {path} is not a PEM X.509 certificate ({exc}); recreate it with `cmpc keys`"
        ) from exc


def check_credentials(creds: PartyCredentials) -> None:
    """Validate the files of ``creds`` (see :func:`load_credentials`); CredentialsError on the first fault."""
    ca = _load_cert(creds.ca, "CA certificate")
    cert = _load_cert(creds.cert, "certificate")
    try:
        key = serialization.load_pem_private_key(_read_pem(creds.key, "private key"), password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialsError(
            f"private key {creds.key} is not an unencrypted PEM private key ({exc}); "
            "recreate it with `cmpc keys`"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CredentialsError(
            f"private key {creds.key} must be an EC P-256 key, got {type(key).__name__}; "
            "recreate it with `cmpc keys`"
        )
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise CredentialsError(f"{creds.ca} is not a CA certificate (no basicConstraints CA=true)")
    if cert.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        raise CredentialsError(f"private key {creds.key} does not belong to the certificate {creds.cert}")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CredentialsError(
            f"certificate {creds.cert} is not signed by the CA in {creds.ca}: use the ca.pem made together "
            "with the party keys"
        ) from exc
    try:
        dns = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        dns = []
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if dns != [creds.party] or cns != [creds.party]:
        raise CredentialsError(
            f"certificate {creds.cert} is for {cns or dns}, not for party {creds.party!r} "
            "(CN and the one DNS name must be the party id)"
        )


def _base_context(purpose: ssl.Purpose, creds: PartyCredentials | None, ca: Path) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(purpose, cafile=str(ca))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.verify_mode = ssl.CERT_REQUIRED
        if creds is not None:
            ctx.load_cert_chain(str(creds.cert), str(creds.key))
    except ssl.SSLError as exc:
        raise CredentialsError(
            f"OpenSSL rejected the TLS files (CA {ca}"
            + (f", certificate {creds.cert}, key {creds.key}" if creds else "")
            + f"): {getattr(exc, 'reason', None) or exc}"
        ) from exc
    except OSError as exc:
        raise CredentialsError(f"cannot read the TLS files: {exc.strerror or exc}: {exc.filename}") from exc
    return ctx


def server_context(creds: PartyCredentials) -> ssl.SSLContext:
    """TLS 1.3 server context that *requires* a client certificate chaining to the project CA."""
    return _base_context(ssl.Purpose.CLIENT_AUTH, creds, creds.ca)


def client_context(
    creds: PartyCredentials | None, *, ca: str | os.PathLike[str] | None = None
) -> ssl.SSLContext:
    """TLS 1.3 client context: verifies the server chains to the CA and its DNS name is the peer's id.

    ``creds=None`` (with ``ca``) builds a context that presents *no* certificate: used by tests to check
    that such a client is refused.
    """
    if creds is None:
        if ca is None:
            raise ParameterError("client_context needs creds or ca")
        ctx = _base_context(ssl.Purpose.SERVER_AUTH, None, Path(ca))
    else:
        ctx = _base_context(ssl.Purpose.SERVER_AUTH, creds, creds.ca)
    ctx.check_hostname = True  # the server's SAN must carry the party id we dial (server_hostname)
    ctx.hostname_checks_common_name = False
    return ctx


def identity_from_peercert(peercert: dict | None) -> str:
    """The party id in a verified peer certificate (``SSLSocket.getpeercert()`` form).

    Requires exactly one DNS name in the subjectAltName, a valid party id, and a subject CN equal to it.
    Raises ParameterError otherwise.
    """
    if not peercert:
        raise ParameterError("peer presented no certificate")
    dns = [value for kind, value in peercert.get("subjectAltName", ()) if kind == "DNS"]
    if len(dns) != 1:
        raise ParameterError(f"peer certificate must carry exactly one DNS name, got {dns}")
    cns = [value for rdn in peercert.get("subject", ()) for key, value in rdn if key == "commonName"]
    if cns != dns:
        raise ParameterError(f"peer certificate CN {cns} does not match its DNS name {dns[0]!r}")
    return check_party_id(dns[0])
