"""The local CA and server certificate of `--tls self-signed`, and the checks on a user's own files."""

import datetime as dt
import ipaddress
import re
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from runtime.certs import (
    RENEW_BEFORE,
    SERVER_DAYS,
    TlsError,
    TlsFiles,
    combined_pem,
    issued_by,
    prepare,
    provided,
    self_signed,
    usable,
)
from runtime.settings import RuntimeSettings, TlsSettings

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def load(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_local_ca_signs_a_server_certificate_for_the_loopback_names(tmp_path):
    files = self_signed(tmp_path / "tls", NOW)
    ca, server = load(files.ca), load(files.cert)
    assert issued_by(server, ca) and ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address(a) for a in ("127.0.0.1", "::1")
    ]
    assert (
        isinstance(server.public_key(), ec.EllipticCurvePublicKey)
        and server.public_key().curve.name == "secp256r1"
    )
    assert (server.not_valid_after_utc - NOW).days == SERVER_DAYS and (
        ca.not_valid_after_utc - NOW
    ).days >= 364


def test_the_folder_and_the_keys_are_the_owners_alone(tmp_path):
    files = self_signed(tmp_path / "tls", NOW)
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    for key in (files.key, tmp_path / "tls" / "ca.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_valid_files_are_reused(tmp_path):
    first = self_signed(tmp_path, NOW)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert self_signed(tmp_path, NOW + dt.timedelta(days=30)) == first
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_server_certificate_close_to_expiry_is_renewed_from_the_same_ca(tmp_path):
    files = self_signed(tmp_path, NOW)
    ca, old = files.ca.read_bytes(), load(files.cert)
    later = NOW + dt.timedelta(days=SERVER_DAYS) - RENEW_BEFORE + dt.timedelta(hours=1)
    self_signed(tmp_path, later)
    renewed = load(files.cert)
    assert files.ca.read_bytes() == ca and renewed.serial_number != old.serial_number
    assert issued_by(renewed, load(files.ca)) and usable(renewed, later)


def test_a_ca_close_to_expiry_is_replaced_with_a_new_server_certificate(tmp_path):
    files = self_signed(tmp_path, NOW)
    ca = files.ca.read_bytes()
    later = NOW + dt.timedelta(days=360)
    self_signed(tmp_path, later)
    assert files.ca.read_bytes() != ca and issued_by(load(files.cert), load(files.ca))
    assert usable(load(files.cert), later)


def test_a_damaged_server_key_is_issued_anew(tmp_path):
    files = self_signed(tmp_path, NOW)
    files.key.write_text("not a key")
    self_signed(tmp_path, NOW)
    assert provided(files.cert, files.key, NOW).cert == files.cert


def test_the_combined_file_holds_the_certificate_then_the_key_owner_only(tmp_path):
    files = self_signed(tmp_path / "tls", NOW)
    pem = combined_pem(files, tmp_path / "tls" / "both.pem").read_text()
    assert pem.index("BEGIN CERTIFICATE") < pem.index("BEGIN PRIVATE KEY")
    assert stat.S_IMODE((tmp_path / "tls" / "both.pem").stat().st_mode) == 0o600


@pytest.fixture
def own(tmp_path):
    """A user's certificate and key (issued by another local CA), and files that are not."""
    files = self_signed(tmp_path / "own", NOW)
    other = self_signed(tmp_path / "other", NOW)
    (tmp_path / "text.pem").write_text("hello\n")
    return {"cert": files.cert, "key": files.key, "other-key": other.key, "text": tmp_path / "text.pem",
            "missing": tmp_path / "missing.pem", "folder": tmp_path}  # fmt: skip


def test_a_users_valid_files_are_accepted_without_a_ca(own):
    files = provided(own["cert"], own["key"], NOW)
    assert (files.cert, files.key, files.ca) == (own["cert"], own["key"], None)


@pytest.mark.parametrize(
    ("cert", "key", "when", "message"),
    [
        pytest.param("missing", "key", NOW, "--tls-cert {missing}: no such file", id="missing-certificate"),
        pytest.param("cert", "missing", NOW, "--tls-key {missing}: no such file", id="missing-key"),
        pytest.param("folder", "key", NOW, "--tls-cert {folder} is a folder", id="a-folder"),
        pytest.param(
            "text", "key", NOW, "--tls-cert {text}: not a PEM certificate", id="certificate-not-pem"
        ),
        pytest.param(
            "cert", "text", NOW, "--tls-key {text}: not an unencrypted PEM private key", id="key-not-pem"
        ),
        pytest.param(
            "cert", "cert", NOW, "--tls-key {cert}: not an unencrypted PEM", id="certificate-as-key"
        ),
        pytest.param(
            "cert",
            "other-key",
            NOW,
            "--tls-key {other-key} is not the key of --tls-cert {cert}",
            id="key-of-another-certificate",
        ),  # fmt: skip
        pytest.param(
            "cert", "key", NOW + dt.timedelta(days=91), "--tls-cert {cert} expired on", id="expired"
        ),
        pytest.param(
            "cert",
            "key",
            NOW - dt.timedelta(days=1),
            "--tls-cert {cert} is valid only from",
            id="not-yet-valid",
        ),  # fmt: skip
    ],
)
def test_unusable_files_are_named_with_the_fix(own, cert, key, when, message):
    with pytest.raises(TlsError) as raised:
        provided(own[cert], own[key], when)
    assert str(raised.value).startswith(message.format_map(own))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param({}, ("off", None), id="off-by-default"),
        pytest.param({"mode": "self-signed"}, ("self-signed", None), id="self-signed"),
        pytest.param({"cert": "c.pem", "key": "k.pem"}, ("files", Path("c.pem")), id="files-implied"),
        pytest.param(
            {"mode": "files", "cert": "c.pem", "key": "k.pem"}, ("files", Path("c.pem")), id="files"
        ),
    ],
)
def test_the_tls_flags_name_a_mode(flags, expected):
    tls = TlsSettings.parse(**flags)
    assert (tls.mode, tls.cert) == expected and (tls.https_port, tls.grpcs_port) == (8443, 9443)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param({"cert": "c.pem"}, "--tls-cert and --tls-key go together", id="certificate-alone"),
        pytest.param({"mode": "on"}, "--tls 'on': choose one of off, self-signed, files", id="unknown-mode"),
        pytest.param(
            {"mode": "files"}, "--tls files needs --tls-cert and --tls-key", id="files-without-files"
        ),
        pytest.param(
            {"mode": "self-signed", "cert": "c.pem", "key": "k.pem"},
            "--tls-cert and --tls-key are for --tls files, not --tls self-signed",
            id="self-signed-with-files",
        ),
        pytest.param(
            {"https_port": 12000}, "--https-port 12000: inside Ray's worker port", id="ray-port-range"
        ),
    ],
)
def test_tls_flags_at_odds_are_named(flags, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TlsSettings.parse(**flags)


def test_the_runtime_settings_carry_tls():
    assert RuntimeSettings.resolve({}).tls.mode == "off"
    assert RuntimeSettings.resolve({}, tls=TlsSettings.parse("self-signed")).tls.mode == "self-signed"


def test_prepare_makes_checks_or_skips_the_files(tmp_path):
    made = prepare(TlsSettings.parse("self-signed"), tmp_path / "tls")
    assert made is not None and made.ca == tmp_path / "tls" / "ca.pem"
    assert prepare(TlsSettings.parse(cert=made.cert, key=made.key), tmp_path / "unused") == TlsFiles(
        made.cert, made.key
    )
    assert prepare(TlsSettings.parse(), tmp_path / "off") is None and not (tmp_path / "off").exists()
    with pytest.raises(TlsError, match="no such file"):
        prepare(TlsSettings.parse(cert=tmp_path / "c.pem", key=made.key), tmp_path / "unused")
