"""Every parser error is a typed ValidationError (reason malformed-*), never a raw
asn1crypto / cryptography / struct / index error; the Validator never raises for bad input."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jukicard.pki import (
    Certificate,
    Crl,
    CrlStore,
    MalformedCertificateError,
    MalformedCrlError,
    MalformedError,
    ValidationPolicy,
    Validator,
    load_certificates,
)

PKITS = Path(__file__).resolve().parents[2] / "vectors" / "pkits"
CERT_DER = (PKITS / "certs" / "ValidCertificatePathTest1EE.crt").read_bytes()
CA_DER = (PKITS / "certs" / "GoodCACert.crt").read_bytes()
CRL_DER = (PKITS / "crls" / "GoodCACRL.crl").read_bytes()
ANCHOR = Certificate.parse((PKITS / "certs" / "TrustAnchorRootCertificate.crt").read_bytes())
AT = _dt.datetime(2022, 5, 1, tzinfo=_dt.UTC)


def _mutate(data: bytes, pos: int, value: int) -> bytes:
    pos %= len(data)
    return data[:pos] + bytes([value]) + data[pos + 1:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pos=st.integers(min_value=0, max_value=10_000), value=st.integers(0, 255))
def test_mutated_certificate_parses_or_raises_typed(pos: int, value: int) -> None:
    data = _mutate(CERT_DER, pos, value)
    try:
        cert = Certificate.parse(data)
    except MalformedCertificateError as exc:
        assert exc.reason == "malformed-certificate"
        return
    # it parsed: every derived view must work without raising
    cert.describe()
    _ = (cert.basic_constraints, cert.key_usage, cert.self_issued, cert.policy_info)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pos=st.integers(min_value=0, max_value=10_000), value=st.integers(0, 255))
def test_mutated_crl_parses_or_raises_typed(pos: int, value: int) -> None:
    data = _mutate(CRL_DER, pos, value)
    try:
        crl = Crl.parse(data)
    except MalformedCrlError as exc:
        assert exc.reason == "malformed-crl"
        return
    crl.describe()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_typed_errors(data: bytes) -> None:
    with pytest.raises(MalformedCertificateError):
        Certificate.parse(data)
    with pytest.raises(MalformedCrlError):
        Crl.parse(data)


@pytest.mark.parametrize("cut", [0, 1, 2, 4, 50, 300, len(CERT_DER) - 1])
def test_truncated_certificate(cut: int) -> None:
    with pytest.raises(MalformedCertificateError):
        Certificate.parse(CERT_DER[:cut])


def test_trailing_garbage_is_rejected() -> None:
    with pytest.raises(MalformedCertificateError):
        Certificate.parse(CERT_DER + b"\x00")


def test_pem_bundles_and_broken_pem() -> None:
    from asn1crypto import pem

    bundle = pem.armor("CERTIFICATE", CERT_DER) + pem.armor("CERTIFICATE", CA_DER)
    assert [c.der for c in load_certificates(bundle)] == [CERT_DER, CA_DER]
    with pytest.raises(MalformedCertificateError):
        Certificate.parse(bundle)  # exactly one expected
    with pytest.raises(MalformedError):
        load_certificates(b"-----BEGIN CERTIFICATE-----\n***\n-----END CERTIFICATE-----\n")
    with pytest.raises(MalformedCrlError):
        CrlStore([b"\x30\x00"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pos=st.integers(min_value=0, max_value=10_000), value=st.integers(0, 255))
def test_validator_never_raises_for_bad_certificates(pos: int, value: int) -> None:
    from jukicard.pki import CrlRevocationSource

    v = Validator(ValidationPolicy.permissive((ANCHOR,)), [CA_DER],
                  CrlRevocationSource([CRL_DER, (PKITS / "crls" / "TrustAnchorRootCRL.crl")
                                       .read_bytes()]))
    res = v.validate(_mutate(CERT_DER, pos, value), AT)
    assert isinstance(res.reason, str)
    if res.valid:
        # only a mutation that leaves the signed content untouched can still validate
        assert res.path[-1].tbs in CERT_DER


def _ber_variants(der: bytes) -> list[bytes]:
    from asn1crypto import parser

    _cls, _method, _tag, header, contents, _trailer = parser.parse(der)
    n = len(contents)
    long_form = b"\x30\x84" + n.to_bytes(4, "big") + contents      # non-minimal length
    indefinite = b"\x30\x80" + contents + b"\x00\x00"               # BER indefinite length
    return [long_form, indefinite]


@pytest.mark.parametrize("variant", [0, 1])
def test_ber_framing_is_rejected(variant: int) -> None:
    with pytest.raises(MalformedCertificateError):
        Certificate.parse(_ber_variants(CERT_DER)[variant])
    with pytest.raises(MalformedCrlError):
        Crl.parse(_ber_variants(CRL_DER)[variant])


def test_empty_serial_integer_is_rejected() -> None:
    from asn1crypto import parser
    from asn1crypto import x509 as ax509

    cert = ax509.Certificate.load(CERT_DER)
    serial_der = cert["tbs_certificate"]["serial_number"].dump()
    _c, _m, _t, _hdr, contents, _tr = parser.parse(cert["tbs_certificate"].dump())
    assert serial_der in contents
    # rebuild TBS and certificate with asn1crypto's emitter (lengths recomputed)
    new_tbs = parser.emit(0, 1, 16, contents.replace(serial_der, b"\x02\x00", 1))
    rest = cert["signature_algorithm"].dump() + cert["signature_value"].dump()
    with pytest.raises(MalformedCertificateError):
        Certificate.parse(parser.emit(0, 1, 16, new_tbs + rest))
