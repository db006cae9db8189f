"""Certificates for TLS on a local runtime: a local CA and a server certificate it signs
(`--tls self-signed`), or the user's own certificate and key, checked before anything listens.

The generated files live in `<state>/tls/` (folder 0700, keys 0600): `ca.pem`, `ca.key`,
`server.pem`, `server.key`. They are reused while valid for more than `RENEW_BEFORE`; the server
certificate is renewed from the same CA, so clients that trust `ca.pem` keep working.
"""

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from runtime.settings import TlsSettings

CA_DAYS = 365
SERVER_DAYS = 90
RENEW_BEFORE = dt.timedelta(days=7)
SERVER_DNS_NAMES = ("localhost",)
SERVER_IP_ADDRESSES = ("127.0.0.1", "::1")
CLOCK_SKEW = dt.timedelta(minutes=5)
"""Certificates start this much before they are issued, so a client whose clock lags accepts them."""


class TlsError(ValueError):
    """A certificate or key cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class TlsFiles:
    """A server's certificate (PEM, leaf first) and its key; `ca` is the CA that signed it when it is
    the local one (clients verify with it), None for a certificate the user brought."""

    cert: Path
    key: Path
    ca: Path | None = None


def usable(cert: x509.Certificate, now: dt.datetime, margin: dt.timedelta = RENEW_BEFORE) -> bool:
    """Whether `cert` is valid at `now` and stays valid for more than `margin` (pure)."""
    return cert.not_valid_before_utc <= now and now + margin < cert.not_valid_after_utc


def issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether `ca` signed `cert` (pure)."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def matches(cert: x509.Certificate, key) -> bool:
    """Whether `key` is the private key of `cert`'s public key (pure)."""
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    return cert.public_key().public_bytes(encoding, public) == key.public_key().public_bytes(encoding, public)


def self_signed(folder: Path, now: dt.datetime | None = None) -> TlsFiles:
    """The local CA and a server certificate for localhost, 127.0.0.1 and ::1 in `folder`: reused while
    valid for more than `RENEW_BEFORE`, the server certificate renewed from the same CA otherwise, and
    both created anew when the CA itself is missing, unreadable or about to expire."""
    now = now or dt.datetime.now(dt.UTC)
    private_folder(folder)
    files = TlsFiles(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    ca_key_path = folder / "ca.key"
    ca = _read_pair(files.ca, ca_key_path)
    if ca is None or not usable(ca[0], now):
        ca = _issue_ca(now)
        _write_pair(ca, files.ca, ca_key_path)
    server = _read_pair(files.cert, files.key)
    if server is None or not usable(server[0], now) or not issued_by(server[0], ca[0]):
        _write_pair(_issue_server(ca, now), files.cert, files.key)
    return files


def provided(cert: Path, key: Path, now: dt.datetime | None = None) -> TlsFiles:
    """The user's certificate and key, checked: readable, PEM, the key belongs to the certificate, and
    the certificate is valid now; TlsError naming the file and the fix otherwise."""
    now = now or dt.datetime.now(dt.UTC)
    cert_pem, key_pem = _read("--tls-cert", cert), _read("--tls-key", key)
    try:
        leaf = x509.load_pem_x509_certificates(cert_pem)[0]
    except ValueError:
        raise TlsError(
            f"--tls-cert {cert}: not a PEM certificate (-----BEGIN CERTIFICATE-----); convert it with "
            f"'openssl x509 -in {cert} -out cert.pem'"
        ) from None
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise TlsError(
            f"--tls-key {key}: not an unencrypted PEM private key; convert it with "
            f"'openssl pkey -in {key} -out key.pem'"
        ) from None
    if not matches(leaf, private):
        raise TlsError(f"--tls-key {key} is not the key of --tls-cert {cert}; give the key it was issued for")
    if now < leaf.not_valid_before_utc:
        raise TlsError(f"--tls-cert {cert} is valid only from {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    if now >= leaf.not_valid_after_utc:
        raise TlsError(f"--tls-cert {cert} expired on {leaf.not_valid_after_utc:%Y-%m-%d}; renew it")
    return TlsFiles(cert, key)


def prepare(tls: TlsSettings, folder: Path) -> TlsFiles | None:
    """The certificate and key `tls` asks for (made or renewed in `folder` for `self-signed`, checked
    for `files`), None when TLS is off."""
    if tls.mode == "self-signed":
        return self_signed(folder)
    if tls.mode == "files" and tls.cert is not None and tls.key is not None:
        return provided(tls.cert, tls.key)
    return None


def combined_pem(files: TlsFiles, path: Path) -> Path:
    """Write the certificate chain followed by its key to `path` (0600), the one file HAProxy reads."""
    chain = files.cert.read_bytes().rstrip(b"\n") + b"\n"
    _write_private(path, chain + files.key.read_bytes())
    return path


def _read(flag: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsError(f"{flag} {path}: no such file; give the path of an existing PEM file") from None
    except IsADirectoryError:
        raise TlsError(f"{flag} {path} is a folder; give the path of a PEM file") from None
    except PermissionError:
        raise TlsError(f"{flag} {path}: permission denied; make it readable by this user") from None


def _read_pair(cert: Path, key: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """A certificate and its key as written here, None when either is missing, unreadable or they
    do not match (they are then issued anew)."""
    try:
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(private, ec.EllipticCurvePrivateKey) or not matches(certificate, private):
        return None
    return certificate, private


def _issue_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "raynomaly local CA")])
    usage = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment"), False)
    usage |= dict.fromkeys(("data_encipherment", "key_agreement", "encipher_only", "decipher_only"), False)
    builder = (
        _builder(name, name, key.public_key(), now, CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(**usage | {"key_cert_sign": True, "crl_sign": True}), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256()), key


def _issue_server(ca, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    names = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IP_ADDRESSES]
    days = min(SERVER_DAYS, (ca_cert.not_valid_after_utc - now).days)
    usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment"), False)
    usage |= dict.fromkeys(("key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    builder = (
        _builder(name, ca_cert.subject, key.public_key(), now, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(**usage | {"digital_signature": True, "key_agreement": True}), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    return builder.sign(ca_key, hashes.SHA256()), key


def _builder(subject, issuer, public_key, now: dt.datetime, days: int) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _write_pair(pair, cert_path: Path, key_path: Path) -> None:
    cert, key = pair
    pkcs8 = serialization.PrivateFormat.PKCS8
    _write_private(
        key_path, key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption())
    )
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def private_folder(folder: Path) -> None:
    """`folder`, created if missing, readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # mkdir's mode is masked by the umask and ignored for an existing folder


def _write_private(path: Path, content: bytes) -> None:
    """Write `content` created 0600 (never readable by others in between), then move it in place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    temporary.replace(path)
