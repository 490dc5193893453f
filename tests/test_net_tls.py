"""Certificates (cmpc.net.tls) and who the TCP transport lets in: only the project CA's parties."""

from __future__ import annotations

import socket
import ssl
import stat
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from cmpc.errors import ParameterError, TransportError
from cmpc.net import tls
from cmpc.net.tcp import HEADER, MAGIC, Kind, TcpTransport
from cmpc.rand import RandomSource

PARTIES = ["source-a", "worker-0", "worker-1", "master"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return tls.write_keys(tmp_path_factory.mktemp("keys"), PARTIES, rng=RandomSource(seed=7))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory):
    """A second, unrelated CA issuing certificates for the very same party ids."""
    return tls.write_keys(tmp_path_factory.mktemp("other"), PARTIES, rng=RandomSource(seed=8))


def load_cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


# -- certificates -----------------------------------------------------------------------------------------
def test_files_and_modes(keys):
    for party in PARTIES:
        for suffix in (".pem", ".key"):
            assert (keys / f"{party}{suffix}").is_file()
        assert stat.S_IMODE((keys / f"{party}.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((keys / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700


def test_party_certificate_names_and_chain(keys):
    ca = load_cert(keys / "ca.pem")
    for party in PARTIES:
        cert = load_cert(keys / f"{party}.pem")
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == party
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [party]
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        cert.verify_directly_issued_by(ca)  # raises if the signature or issuer is wrong
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_other_ca_does_not_verify(keys, other_keys):
    cert = load_cert(other_keys / "worker-0.pem")
    with pytest.raises(Exception):  # noqa: B017 - cryptography raises ValueError / InvalidSignature
        cert.verify_directly_issued_by(load_cert(keys / "ca.pem"))


def test_seeded_keys_are_reproducible_and_distinct(tmp_path):
    a = tls.write_keys(tmp_path / "a", ["worker-0"], rng=RandomSource(seed=1))
    b = tls.write_keys(tmp_path / "b", ["worker-0"], rng=RandomSource(seed=1))
    c = tls.write_keys(tmp_path / "c", ["worker-0"], rng=RandomSource(seed=2))

    def scalar(folder):
        key = serialization.load_pem_private_key((folder / "worker-0.key").read_bytes(), None)
        return key.private_numbers().private_value

    assert scalar(a) == scalar(b) != scalar(c)
    assert scalar(a) != serialization.load_pem_private_key((a / "ca.key").read_bytes(), None)\
        .private_numbers().private_value


@pytest.mark.parametrize("bad", ["", "-worker", "worker-", "a" * 64, "wörker", "a.b", "a b", 3, None])
def test_bad_party_ids(bad):
    with pytest.raises(ParameterError, match="party id"):
        tls.check_party_id(bad)


def test_duplicate_ids_rejected(tmp_path):
    with pytest.raises(ParameterError, match="distinct"):
        tls.write_keys(tmp_path, ["worker-0", "worker-0"])


def test_load_credentials_errors(keys, tmp_path):
    with pytest.raises(ParameterError, match="not found"):
        tls.load_credentials(tmp_path, "worker-0")
    loose = tls.write_keys(tmp_path / "loose", ["worker-0"], rng=RandomSource(seed=3))
    (loose / "worker-0.key").chmod(0o644)
    with pytest.raises(ParameterError, match="chmod 600"):
        tls.load_credentials(loose, "worker-0")
    creds = tls.load_credentials(keys, "worker-0")
    assert creds.party == "worker-0" and creds.ca.name == "ca.pem"


def test_identity_from_peercert():
    good = {"subject": ((("commonName", "worker-3"),),), "subjectAltName": (("DNS", "worker-3"),)}
    assert tls.identity_from_peercert(good) == "worker-3"
    with pytest.raises(ParameterError, match="no certificate"):
        tls.identity_from_peercert(None)
    with pytest.raises(ParameterError, match="exactly one DNS"):
        tls.identity_from_peercert({**good, "subjectAltName": (("DNS", "a"), ("DNS", "b"))})
    with pytest.raises(ParameterError, match="does not match"):
        tls.identity_from_peercert({**good, "subject": ((("commonName", "master"),),)})


# -- who gets in ------------------------------------------------------------------------------------------
def endpoint(party, folder, addresses, **kw):
    creds = tls.load_credentials(folder, party)
    return TcpTransport(party, addresses, credentials=creds, connect_timeout=3.0, **kw).start()


@pytest.fixture
def listener(keys):
    """worker-1 listening with the genuine keys; yields (transport, address book)."""
    book = {p: ("127.0.0.1", 0) for p in PARTIES}
    server = endpoint("worker-1", keys, book)
    book["worker-1"] = ("127.0.0.1", server.port)
    yield server, book
    server.close()


def test_genuine_party_is_accepted(keys, listener):
    server, book = listener
    with endpoint("worker-0", keys, book) as client:
        client.send("worker-1", b"share", phase="phase1")
        assert server.recv(timeout=3) == ("worker-0", b"share")


def test_certificate_from_another_ca_is_refused(other_keys, listener):
    server, book = listener
    with endpoint("worker-0", other_keys, book) as rogue:
        t0 = time.monotonic()
        with pytest.raises(TransportError) as info:
            rogue.send("worker-1", b"x")
            rogue.flush()
        assert info.value.peer == "worker-1"
        assert time.monotonic() - t0 < 3.5
    with pytest.raises(TransportError, match="nothing received"):
        server.recv(timeout=0.3)


def test_client_without_certificate_is_refused(keys, listener):
    server, book = listener
    ctx = tls.client_context(None, ca=keys / "ca.pem")
    answer: bytes | Exception
    try:
        with socket.create_connection(book["worker-1"], timeout=3) as raw:
            with ctx.wrap_socket(raw, server_hostname="worker-1") as conn:
                conn.sendall(HEADER.pack(len(MAGIC) + 8, Kind.HELLO) + MAGIC + b"worker-0")
                answer = conn.recv(64)  # TLS 1.3: the server's alert arrives here
    except (ssl.SSLError, OSError) as exc:
        answer = exc
    # refused: a TLS alert ("certificate required"), a reset, or EOF - never an ACCEPT frame
    assert not (isinstance(answer, bytes) and len(answer) >= HEADER.size and answer[4] == Kind.ACCEPT)
    if isinstance(answer, ssl.SSLError):
        assert "CERTIFICATE" in str(answer).upper()
    with pytest.raises(TransportError):
        server.recv(timeout=0.3)


def test_listener_with_wrong_identity_is_refused(keys):
    """Dialing worker-1 but reaching a process holding worker-0's certificate fails the hostname check."""
    book = {p: ("127.0.0.1", 0) for p in PARTIES}
    impostor = endpoint("worker-0", keys, book)
    try:
        book["worker-1"] = ("127.0.0.1", impostor.port)
        client = endpoint("master", keys, book)
        with client, pytest.raises(TransportError, match="TLS handshake with worker-1") as info:
            client.send("worker-1", b"x")
            client.flush()
        assert "mismatch" in str(info.value).lower()
        assert info.value.peer == "worker-1"
    finally:
        impostor.close()


def test_party_outside_the_session_is_refused(keys, listener, tmp_path):
    _server, book = listener
    # same CA, but "worker-9" is not in the listener's party list
    ca_key = serialization.load_pem_private_key((keys / "ca.key").read_bytes(), None)
    ca_cert = load_cert(keys / "ca.pem")
    folder = tls.write_keys(tmp_path, ["worker-9"], ca=(ca_key, ca_cert), rng=RandomSource(seed=4))
    with endpoint("worker-9", folder, {**book, "worker-9": ("127.0.0.1", 0)}) as stranger:
        with pytest.raises(TransportError, match="not a peer") as info:
            stranger.send("worker-1", b"x")
            stranger.flush()
        assert info.value.peer == "worker-1"


def test_hello_must_match_certificate(keys, listener):
    _server, book = listener
    creds = tls.load_credentials(keys, "worker-0")
    ctx = creds.client_context()
    with socket.create_connection(book["worker-1"], timeout=3) as raw:
        with ctx.wrap_socket(raw, server_hostname="worker-1") as conn:
            claim = MAGIC + b"master"  # certificate says worker-0
            conn.sendall(HEADER.pack(len(claim), Kind.HELLO) + claim)
            head = conn.recv(HEADER.size)
            length, kind = HEADER.unpack(head)
            reason = conn.recv(length)
    assert kind == Kind.REFUSE
    assert b"certificate is for 'worker-0'" in reason
