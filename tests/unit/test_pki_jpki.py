"""JPKI profile rules and the sign certificate's SAN decoder (jukicard.pki.jpki), on
certificates built here (the generated test PKI is exercised in test_pki_jpki_profile.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pytest
from asn1crypto import core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from jukicard.errors import UsageError
from jukicard.pki.certs import Certificate
from jukicard.pki.jpki import (
    POLICY_AUTH,
    POLICY_SIGN,
    JpkiSubjectInfo,
    MalformedSanError,
    ProfileProblem,
    ca_generation,
    ca_kind,
    certificate_kind,
    check_profile,
)

UTC = dt.UTC
OU = {"sign": "JPKI for digital signature", "auth": "JPKI for user authentication"}
SAN = "1.2.392.200149.8.5.5."
# synthetic test person: never a real one
PERSON = {"name": "試験　太郎", "name_substitute": "", "sex": "1", "birth": "319850715",
          "address": "東京都千代田区見本町1丁目1番1号", "address_substitute": ""}


def ku(*names: str) -> x509.KeyUsage:
    all_ = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
            "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
    return x509.KeyUsage(**{n: n in names for n in all_})


def ca_name(kind: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, OU[kind]),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                           "Japan Agency for Local Authority Information Systems"),
    ])


def other_names(values: dict[str, str]) -> list[x509.OtherName]:
    idx = {"name": 1, "name_substitute": 2, "sex": 3, "birth": 4, "address": 5,
           "address_substitute": 6}
    return [x509.OtherName(x509.ObjectIdentifier(SAN + str(idx[k])), core.UTF8String(v).dump())
            for k, v in values.items()]


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    return {n: rsa.generate_private_key(65537, 2048) for n in ("sign", "auth", "ee")}


def make_ca(key, kind: str, *, year: int = 2023, usage=("key_cert_sign", "crl_sign"),
            ca: bool = True, name: x509.Name | None = None) -> Certificate:
    n = name or ca_name(kind)
    b = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(key.public_key())
         .serial_number(1).not_valid_before(dt.datetime(year, 7, 15, 15, tzinfo=UTC))
         .not_valid_after(dt.datetime(year + 10, 7, 15, tzinfo=UTC))
         .add_extension(ku(*usage), critical=True))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return Certificate.from_cryptography(b.sign(key, hashes.SHA256()))


def make_ee(issuer_key, kind: str, *, issuer_kind: str | None = None, key=None,
            usage: tuple[str, ...] | None = None, ku_critical: bool = True,
            policies: tuple[str, ...] | None = None, san: dict[str, str] | None | str = "auto",
            ca: bool = False, not_before: dt.datetime | None = None) -> Certificate:
    key = key or rsa.generate_private_key(65537, 2048)
    if usage is None:
        usage = ("digital_signature", "content_commitment") if kind == "sign" else (
            "digital_signature",)
    if policies is None:
        policies = (POLICY_SIGN,) if kind == "sign" else (POLICY_AUTH,)
    if san == "auto":
        san = PERSON if kind == "sign" else None
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                  x509.NameAttribute(NameOID.COMMON_NAME, "TEST0001")]))
         .issuer_name(ca_name(issuer_kind or kind)).public_key(key.public_key())
         .serial_number(0x10203040)
         .not_valid_before(not_before or dt.datetime(2025, 4, 1, tzinfo=UTC))
         .not_valid_after(dt.datetime(2030, 3, 2, 14, 59, 59, tzinfo=UTC)))
    if usage:
        b = b.add_extension(ku(*usage), critical=ku_critical)
    if policies:
        b = b.add_extension(x509.CertificatePolicies(
            [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]), False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(other_names(san)), False)
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return Certificate.from_cryptography(b.sign(issuer_key, hashes.SHA256()))


def codes(problems: list[ProfileProblem]) -> set[str]:
    return {p.code for p in problems}


@pytest.fixture(scope="module")
def sign_path(keys) -> list[Certificate]:
    return [make_ca(keys["sign"], "sign"), make_ee(keys["sign"], "sign", key=keys["ee"])]


@pytest.fixture(scope="module")
def auth_path(keys) -> list[Certificate]:
    return [make_ca(keys["auth"], "auth"), make_ee(keys["auth"], "auth", key=keys["ee"])]


# --------------------------------------------------------------------------- good paths
def test_good_sign_and_auth_paths(sign_path, auth_path) -> None:
    assert check_profile(sign_path) == []
    assert check_profile(auth_path) == []
    assert check_profile(sign_path, expected_usage="sign") == []
    assert check_profile(auth_path, expected_usage="auth") == []
    assert certificate_kind(sign_path[1]) == "sign"
    assert certificate_kind(auth_path[1]) == "auth"


def test_accepts_cryptography_and_der_path_elements(sign_path) -> None:
    as_crypto = [c.to_cryptography() for c in sign_path]
    as_der = [c.der for c in sign_path]
    assert check_profile(as_crypto) == [] and check_profile(as_der) == []


def test_problems_are_frozen_dataclasses_with_code_message_position(sign_path) -> None:
    """Issue 8: a problem is a frozen dataclass (was a ``str`` subclass: fails on the old
    code, whose problems had no ``message``/``position`` and could be mutated)."""
    (p,) = check_profile(sign_path, expected_usage="auth")
    assert isinstance(p, ProfileProblem) and not isinstance(p, str)
    assert (p.code, p.position) == ("wrong-usage", 1)
    assert p.message == "a sign (署名用) certificate cannot be used as auth (利用者証明用)"
    assert str(p) == f"wrong-usage: {p.message}"  # the text the str subclass had
    assert "; ".join(map(str, [p, p])) == f"{p}; {p}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.code = "other"  # type: ignore[misc]


def test_problem_positions_name_the_certificate_at_fault(keys) -> None:
    """A CA problem points at the CA, an end-entity problem at the leaf, an empty path at
    nothing (new in issue 8: the old problems carried no position)."""
    ee = make_ee(keys["sign"], "sign", key=keys["ee"])
    path = [make_ca(keys["sign"], "sign"), make_ca(keys["auth"], "auth"), ee]
    problems = check_profile(path, expected_usage="auth")
    assert {(p.code, p.position) for p in problems} == {("ca-kind-mismatch", 1),
                                                         ("wrong-usage", 2)}
    (empty,) = check_profile([])
    assert empty.position is None


# --------------------------------------------------------------------------- usage
def test_sign_certificate_used_as_auth(sign_path) -> None:
    assert codes(check_profile(sign_path, expected_usage="auth")) == {"wrong-usage"}


def test_auth_certificate_used_as_sign(auth_path) -> None:
    assert codes(check_profile(auth_path, expected_usage="sign")) == {"wrong-usage"}


def test_bad_expected_usage(sign_path) -> None:
    with pytest.raises(UsageError):
        check_profile(sign_path, expected_usage="encrypt")


# --------------------------------------------------------------------------- end entity
@pytest.mark.parametrize("usage", [("digital_signature",), ("content_commitment",), ()])
def test_sign_key_usage_incomplete(keys, usage) -> None:
    path = [make_ca(keys["sign"], "sign"), make_ee(keys["sign"], "sign", usage=usage)]
    assert "key-usage" in codes(check_profile(path))


def test_sign_key_usage_not_critical(keys) -> None:
    path = [make_ca(keys["sign"], "sign"), make_ee(keys["sign"], "sign", ku_critical=False)]
    assert codes(check_profile(path)) == {"key-usage-not-critical"}


def test_auth_key_usage_missing_digital_signature(keys) -> None:
    path = [make_ca(keys["auth"], "auth"),
            make_ee(keys["auth"], "auth", usage=("key_encipherment",))]
    assert codes(check_profile(path)) == {"key-usage"}


def test_end_entity_with_cert_sign(keys) -> None:
    path = [make_ca(keys["auth"], "auth"),
            make_ee(keys["auth"], "auth", usage=("digital_signature", "key_cert_sign"))]
    assert codes(check_profile(path)) == {"key-usage"}


def test_sign_policy_missing_falls_back_to_issuer(keys) -> None:
    path = [make_ca(keys["sign"], "sign"), make_ee(keys["sign"], "sign", policies=())]
    assert codes(check_profile(path)) == {"missing-policy"}


def test_policy_and_issuer_disagree(keys) -> None:
    # auth policy on a certificate issued by the sign CA
    ee = make_ee(keys["sign"], "auth", issuer_kind="sign")
    assert "kind-mismatch" in codes(check_profile([make_ca(keys["sign"], "sign"), ee]))


def test_both_policies(keys) -> None:
    ee = make_ee(keys["sign"], "sign", policies=(POLICY_SIGN, POLICY_AUTH))
    assert "kind-mismatch" in codes(check_profile([make_ca(keys["sign"], "sign"), ee]))


def test_sign_cert_under_auth_anchor(keys) -> None:
    # a sign-policy certificate chained to the auth hierarchy
    ee = make_ee(keys["auth"], "sign", issuer_kind="auth")
    problems = codes(check_profile([make_ca(keys["auth"], "auth"), ee]))
    assert {"kind-mismatch", "ca-kind-mismatch"} <= problems


def test_not_jpki(keys) -> None:
    other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some CA")])
    ca = make_ca(keys["auth"], "auth", name=other)
    b = (x509.CertificateBuilder().subject_name(other).issuer_name(other)
         .public_key(keys["ee"].public_key()).serial_number(5)
         .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=UTC))
         .not_valid_after(dt.datetime(2026, 1, 1, tzinfo=UTC)))
    ee = Certificate.from_cryptography(b.sign(keys["auth"], hashes.SHA256()))
    assert codes(check_profile([ca, ee])) == {"not-jpki"}


def test_sign_without_subject_info(keys) -> None:
    path = [make_ca(keys["sign"], "sign"), make_ee(keys["sign"], "sign", san=None)]
    assert codes(check_profile(path)) == {"missing-subject-info"}


def test_auth_with_personal_data(keys) -> None:
    path = [make_ca(keys["auth"], "auth"), make_ee(keys["auth"], "auth", san=PERSON)]
    assert codes(check_profile(path)) == {"personal-data-in-auth"}


def test_malformed_san_is_a_problem_not_an_exception(keys) -> None:
    bad = dict(PERSON, birth="319851315")  # month 13
    path = [make_ca(keys["sign"], "sign"), make_ee(keys["sign"], "sign", san=bad)]
    assert codes(check_profile(path)) == {"malformed-san"}


def test_end_entity_is_ca(keys) -> None:
    path = [make_ca(keys["auth"], "auth"), make_ee(keys["auth"], "auth", ca=True)]
    assert "is-ca" in codes(check_profile(path))


def test_rsa_1024_end_entity_min_bits_is_callers(keys) -> None:
    small = rsa.generate_private_key(65537, 1024)
    path = [make_ca(keys["sign"], "sign"), make_ee(keys["sign"], "sign", key=small)]
    assert codes(check_profile(path)) == {"weak-key"}
    assert check_profile(path, min_rsa_bits=1024) == []


def test_rsa_1024_accepted_for_juki_era_certificates(keys) -> None:
    small = rsa.generate_private_key(65537, 1024)
    ca = make_ca(keys["sign"], "sign", year=2013)
    juki_era = make_ee(keys["sign"], "sign", key=small,
                       not_before=dt.datetime(2014, 4, 1, tzinfo=UTC))
    assert check_profile([ca, juki_era]) == []
    assert codes(check_profile([ca, juki_era], min_rsa_bits=2048)) == {"weak-key"}


def test_ec_end_entity(keys) -> None:
    path = [make_ca(keys["auth"], "auth"),
            make_ee(keys["auth"], "auth", key=ec.generate_private_key(ec.SECP256R1()))]
    assert codes(check_profile(path)) == {"not-rsa"}


def test_issued_before_ca(keys) -> None:
    path = [make_ca(keys["auth"], "auth"),
            make_ee(keys["auth"], "auth", not_before=dt.datetime(2020, 1, 1, tzinfo=UTC))]
    assert codes(check_profile(path)) == {"issued-before-ca"}


# --------------------------------------------------------------------------- CAs
def test_ca_without_crl_sign(keys) -> None:
    path = [make_ca(keys["auth"], "auth", usage=("key_cert_sign",)),
            make_ee(keys["auth"], "auth")]
    assert codes(check_profile(path)) == {"ca-key-usage"}


def test_ca_without_basic_constraints(keys) -> None:
    path = [make_ca(keys["auth"], "auth", ca=False), make_ee(keys["auth"], "auth")]
    assert "ca-basic-constraints" in codes(check_profile(path))


def test_expired_anchor_with_at(keys, sign_path) -> None:
    old = make_ca(keys["sign"], "sign", year=2015)  # valid 2015-07-15 .. 2025-07-15
    ee = make_ee(keys["sign"], "sign", not_before=dt.datetime(2020, 4, 1, tzinfo=UTC))
    assert check_profile([old, ee]) == []
    assert check_profile([old, ee], dt.datetime(2024, 1, 1, tzinfo=UTC)) == []
    assert codes(check_profile([old, ee], dt.datetime(2026, 1, 1, tzinfo=UTC))) == {"ca-expired"}


def test_empty_path() -> None:
    assert codes(check_profile([])) == {"empty-path"}


def test_ca_generation_and_kind(keys) -> None:
    for year in (2015, 2019, 2023):
        ca = make_ca(keys["sign"], "sign", year=year)
        assert ca_generation(ca) == str(year)
        assert ca_kind(ca.subject) == "sign"
    assert ca_generation(make_ca(keys["sign"], "sign", year=2031)) is None
    assert ca_generation(make_ee(keys["sign"], "sign")) is None


# --------------------------------------------------------------------------- SAN decoder
def test_subject_info_decodes_and_round_trips(sign_path) -> None:
    info = JpkiSubjectInfo.parse(sign_path[1])
    assert info.name == PERSON["name"] and info.address == PERSON["address"]
    assert info.sex_label == "male"
    assert info.birth_date == dt.date(1985, 7, 15) and info.birth_era == "showa"
    assert info.name_substitute == "" and not info.empty
    assert JpkiSubjectInfo.parse(bytes(info)) == info
    assert JpkiSubjectInfo.from_certificate(sign_path[1].to_cryptography()) == info
    assert JpkiSubjectInfo.parse(sign_path[1].der) == info


def test_subject_info_repr_and_logs_have_no_personal_data(sign_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    info = JpkiSubjectInfo.parse(sign_path[1])
    check_profile(sign_path, expected_usage="auth")
    text = repr(info) + str(info) + caplog.text
    for value in ("試験", "見本町", "19850715", "319850715"):
        assert value not in text
    assert "redacted" in repr(info)


def test_auth_cert_has_empty_subject_info(auth_path) -> None:
    assert JpkiSubjectInfo.parse(auth_path[1]).empty


def _gn(oid: str, value) -> ax509.GeneralName:
    value = value.retag({"explicit": 0}) if hasattr(value, "retag") else value
    return ax509.GeneralName(name="other_name",
                             value=ax509.AnotherName({"type_id": oid, "value": value}))


@pytest.mark.parametrize(
    "entries",
    [
        [(SAN + "4", core.UTF8String("3198507"))],           # too short
        [(SAN + "4", core.UTF8String("919850715"))],         # unknown era
        [(SAN + "4", core.UTF8String("519850715"))],         # 令和 but 1985
        [(SAN + "4", core.UTF8String("319850230"))],         # Feb 30
        [(SAN + "4", core.UTF8String("3１９８５0715"))],      # full-width digits
        [(SAN + "3", core.UTF8String("7"))],                 # sex code
        [(SAN + "1", core.Integer(5))],                      # not a string
        [(SAN + "1", core.UTF8String("a")), (SAN + "1", core.UTF8String("b"))],  # duplicate
    ],
)
def test_malformed_subject_info(entries) -> None:
    der = ax509.GeneralNames([_gn(o, v) for o, v in entries]).dump()
    with pytest.raises(MalformedSanError) as ei:
        JpkiSubjectInfo.parse(der)
    assert ei.value.reason == "malformed-jpki-san"
    assert "3198" not in str(ei.value)


def test_printable_string_value_and_foreign_entries() -> None:
    der = ax509.GeneralNames([
        ax509.GeneralName(name="dns_name", value="example.test"),
        _gn("1.2.3.4", core.UTF8String("other")),
        _gn(SAN + "3", core.PrintableString("2")),
    ]).dump()
    info = JpkiSubjectInfo.parse(der)
    assert info.sex_label == "female" and info.name is None


@pytest.mark.parametrize("blob", [b"", b"\x30", b"\x30\x03\xa0\x01\x00", b"\xff" * 10])
def test_garbage_subject_info_is_typed(blob: bytes) -> None:
    with pytest.raises((MalformedSanError, Exception)) as ei:
        JpkiSubjectInfo.parse(blob)
    assert getattr(ei.value, "reason", "").startswith("malformed")


def test_usage_mismatch_message_reads_as_english() -> None:
    """Review: "a auth (利用者証明用) certificate" — the article follows the kind."""
    from jukicard.pki.jpki import _ARTICLE, _KIND_LABEL

    assert {k: f"{_ARTICLE[k]} {_KIND_LABEL[k]}" for k in _KIND_LABEL} == {
        "sign": "a sign (署名用)", "auth": "an auth (利用者証明用)"}
