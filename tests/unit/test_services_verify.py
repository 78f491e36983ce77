"""The verification use cases without the CLI: :mod:`jukicard.services.verify`,
:mod:`jukicard.services.signatures` and the bounded input reading of
:mod:`jukicard.services.inputs` (issue 8: verification moved below the CLI so a console and
the bulk verifier reuse it)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7

from jukicard.errors import UsageError
from jukicard.services import inputs
from jukicard.services.inputs import InputError
from jukicard.services.signatures import SignatureOptions, decode_signature, verify_signature
from jukicard.services.verify import (
    InputFileError,
    VerifyOptions,
    check_policy_oid,
    parse_at,
    verify_certificate,
)

PKI = Path(__file__).resolve().parents[2] / "vectors" / "pki"
AT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DATA = b"document to sign\n"
SIGN_CHAIN = VerifyOptions(anchors=(str(PKI / "ca/sign-2023.cer"),),
                           crls=(str(PKI / "crl/sign-2023.crl"),), at=AT)


def _key(rid: str = "r1", kind: str = "sign"):
    return serialization.load_pem_private_key(
        (PKI / f"keys/ee-{rid}-{kind}.pem").read_bytes(), None)


# --------------------------------------------------------------------------- options
def test_parse_at() -> None:
    assert parse_at("2026-06-01T09:00:00+09:00") == AT
    assert parse_at("2026-06-01T00:00:00Z") == AT
    assert parse_at("2026-06-01T00:00:00") == AT  # no zone: UTC
    assert parse_at(None).tzinfo is not None
    with pytest.raises(UsageError, match="--at 'yesterday'"):
        parse_at("yesterday")
    with pytest.raises(UsageError, match="outside the range"):
        parse_at("9999-12-31T23:00:00-05:00")


@pytest.mark.parametrize("oid", ["2.5.29.32.0", "1.2.392.200149.8.5.1.1.20", "0.39", "2.999.1"])
def test_policy_oids_accepted(oid: str) -> None:
    assert check_policy_oid(oid) == oid
    assert VerifyOptions(policies=[oid]).policies == (oid,)  # type: ignore[arg-type]


@pytest.mark.parametrize("oid", ["", "1", "1.", ".1", "1..2", "1.40", "3.1", "1.2.a", "01.2"])
def test_policy_oids_refused(oid: str) -> None:
    with pytest.raises(UsageError, match="--policy"):
        VerifyOptions(policies=(oid,))


def test_options_are_checked_and_frozen() -> None:
    with pytest.raises(UsageError):
        VerifyOptions(usage="both")
    with pytest.raises(UsageError):
        VerifyOptions(min_rsa_bits=-1)
    with pytest.raises(UsageError):
        VerifyOptions(at=dt.datetime(2026, 1, 1))  # naive
    with pytest.raises(UsageError, match="allow-sha1"):
        SignatureOptions(hash_alg="sha1")
    opts = VerifyOptions(usage="sign")
    assert opts.jpki and not VerifyOptions().jpki
    with pytest.raises(AttributeError):
        opts.usage = "auth"  # type: ignore[misc]


# --------------------------------------------------------------------------- certificates
def test_verify_certificate_valid_and_revoked() -> None:
    report = verify_certificate(str(PKI / "ee/r1-sign.cer"), SIGN_CHAIN)
    assert report.valid and report.to_json()["reason"] == "ok"
    assert report.to_json()["at"] == "2026-06-01T00:00:00Z"
    report = verify_certificate(str(PKI / "ee/r2-sign.cer"), SIGN_CHAIN)
    data = report.to_json()
    assert not report.valid and data["reason"] == "revoked"
    assert data["revocation"][0]["revocation_reason"] == "affiliationChanged"
    data["reason"] = "changed"
    assert report.to_json()["reason"] == "revoked"  # to_json hands out a copy


def test_verify_certificate_names_the_input_at_fault() -> None:
    """An anchor file holding a CRL is the caller's mistake (an ``InputError``, a
    ``UsageError``) naming the option and the file; a CERT holding a CRL is an invalid
    result naming it (issue 8 review)."""
    opts = VerifyOptions(anchors=(str(PKI / "crl/sign-2023.crl"),), at=AT)
    with pytest.raises(InputError) as err:
        verify_certificate(str(PKI / "ee/r1-sign.cer"), opts)
    assert err.value.option == "--anchor" and err.value.path == str(PKI / "crl/sign-2023.crl")
    assert "it holds a CRL" in str(err.value) and "ValueError" not in str(err.value)
    data = verify_certificate(str(PKI / "crl/sign-2023.crl"), SIGN_CHAIN).to_json()
    assert data["reason"] == "malformed-certificate"
    assert data["input"] == {"option": "CERT", "file": str(PKI / "crl/sign-2023.crl")}
    assert "it holds a CRL" in data["message"] and "ValueError" not in data["message"]


def test_missing_files_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="CERT"):
        verify_certificate(str(tmp_path / "none"), SIGN_CHAIN)
    with pytest.raises(UsageError, match="--crl"):
        verify_certificate(str(PKI / "ee/r1-sign.cer"),
                           VerifyOptions(anchors=SIGN_CHAIN.anchors, crls=(str(tmp_path),)))
    with pytest.raises(UsageError, match="no trust anchor"):
        verify_certificate(str(PKI / "ee/r1-sign.cer"), VerifyOptions(at=AT))


def test_input_file_error_keeps_the_reason() -> None:
    from jukicard.pki.errors import MalformedCrlError

    err = InputFileError("CERT", "x.crl", MalformedCrlError("bad (ValueError)"),
                         "it holds a certificate", what="CRL")
    assert err.reason == "malformed-crl" and err.option == "CERT"
    # the parser's own words (and Python's error names) are not repeated
    assert str(err) == "CERT 'x.crl' is not a readable CRL (DER or PEM) (it holds a certificate)"


# --------------------------------------------------------------------------- signatures
def test_decode_signature_forms() -> None:
    raw = bytes(range(256))
    b64 = base64.b64encode(raw)
    assert decode_signature(raw, 256) == (raw, "raw")
    assert decode_signature(b64 + b"\n", 256) == (raw, "base64")
    assert decode_signature(json.dumps({"signature": b64.decode()}).encode(), 256) == (raw,
                                                                                      "json")
    assert decode_signature(b"not a signature", 256) == (b"not a signature", "raw")
    assert decode_signature(base64.b64encode(b"short"), 256)[1] == "raw"


@pytest.mark.parametrize("alg", ["sha256", "sha384", "sha512"])
def test_raw_signature_hash_from_the_digest_info(tmp_path: Path, alg: str) -> None:
    (tmp_path / "data").write_bytes(DATA)
    sig = _key().sign(DATA, padding.PKCS1v15(), getattr(hashes, alg.upper())())
    (tmp_path / "sig").write_bytes(base64.b64encode(sig))
    report = verify_signature(str(tmp_path / "data"), str(tmp_path / "sig"),
                              SignatureOptions(certificate=str(PKI / "ee/r1-sign.cer")),
                              SIGN_CHAIN)
    data = report.to_json()
    assert report.valid, data
    assert data["signature"] == {"valid": True, "format": "pkcs1v15", "mode": "message",
                                 "hash": alg, "key_size": 2048, "weak_hash": False,
                                 "encoding": "base64"}
    assert data["certificate"]["valid"] is True


def test_raw_signature_digest_mode_and_hash_mismatch(tmp_path: Path) -> None:
    sig = _key().sign(DATA, padding.PKCS1v15(), hashes.SHA256())
    (tmp_path / "sig").write_bytes(sig)
    (tmp_path / "digest").write_bytes(hashlib.sha256(DATA).digest())
    cert = str(PKI / "ee/r1-sign.cer")
    report = verify_signature(str(tmp_path / "digest"), str(tmp_path / "sig"),
                              SignatureOptions(certificate=cert, mode="digest"), VerifyOptions())
    assert report.valid and report.to_json()["signature"]["mode"] == "digest"
    report = verify_signature(str(tmp_path / "digest"), str(tmp_path / "sig"),
                              SignatureOptions(certificate=cert, mode="digest",
                                               hash_alg="sha384"), VerifyOptions())
    assert not report.valid and report.to_json()["reason"] == "bad-signature"


def test_cms_and_usage_errors(tmp_path: Path) -> None:
    from cryptography import x509

    cert = x509.load_der_x509_certificate((PKI / "ee/r1-sign.cer").read_bytes())
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "p7s").write_bytes(
        pkcs7.PKCS7SignatureBuilder().set_data(DATA).add_signer(cert, _key(), hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary,
                                           pkcs7.PKCS7Options.DetachedSignature]))
    report = verify_signature(str(tmp_path / "data"), str(tmp_path / "p7s"),
                              SignatureOptions(), SIGN_CHAIN)
    assert report.valid and report.to_json()["signature"]["format"] == "cms"
    with pytest.raises(UsageError, match="--digest/--raw"):
        verify_signature(str(tmp_path / "data"), str(tmp_path / "p7s"),
                         SignatureOptions(mode="raw"), SIGN_CHAIN)
    (tmp_path / "sig").write_bytes(b"\x00" * 256)
    with pytest.raises(UsageError, match="--cert"):
        verify_signature(str(tmp_path / "data"), str(tmp_path / "sig"), SignatureOptions(),
                         SIGN_CHAIN)


# --------------------------------------------------------------------------- inputs
def test_read_input_limits(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"x" * 10)
    assert inputs.read_input(small, option="--crl", what="CRL", limit=10) == b"x" * 10
    with pytest.raises(UsageError, match="--crl: CRL .*small.* larger than the 9 bytes limit"):
        inputs.read_input(small, option="--crl", what="CRL", limit=9)
    # a device is refused before anything is read (review 2: inputs are regular files)
    with pytest.raises(UsageError, match="CERT: '/dev/zero' is not a regular file"):
        inputs.read_input("/dev/zero", option="CERT", what="certificate", limit=1024)
    with pytest.raises(UsageError, match="is a directory"):
        inputs.read_input(tmp_path, option="CERT", what="certificate", limit=1024)
    with pytest.raises(UsageError, match="cannot read"):
        inputs.read_input(tmp_path / "none", option="CERT", what="certificate", limit=1024)


def test_hash_file_streams(tmp_path: Path) -> None:
    doc = tmp_path / "doc"
    doc.write_bytes(DATA * 10000)
    assert inputs.hash_file(doc, "sha384", option="FILE") == hashlib.sha384(DATA * 10000).digest()
    with pytest.raises(UsageError):
        inputs.hash_file(doc, "md-nothing", option="FILE")


def test_display_path_is_always_valid_text() -> None:
    name = b"/tmp/\xff\xfe.sig".decode("utf-8", "surrogateescape")
    shown = inputs.display_path(name)
    assert shown == "'/tmp/\\udcff\\udcfe.sig'"
    shown.encode("utf-8")
