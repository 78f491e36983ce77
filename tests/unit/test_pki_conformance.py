"""The strict RFC 5280 §4 certificate profile (jukicard.pki.conformance), rule by rule.

Each defect is a path root → CA → end entity (built with ``cryptography``'s builders, or by
editing the DER with asn1crypto and re-signing) that differs from a conformant control in
exactly one §4 rule.  Under ``Conformance.STRICT`` (the default) the path is refused with
the rule's own reason, at the position of the certificate at fault; under
``Conformance.LENIENT`` the same path validates, which shows that the §6 path checks accept
it and that the profile rule is the only defect.  Every one of these tests fails on the old
code, which had no profile checks: each defective path validated.

The CRL profile (§5) is in ``test_pki_conformance_crl.py``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

import pytest
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from test_pki_factory import AT, NA, UTC, dn, make_cert, rsa_key

from jukicard.errors import UsageError
from jukicard.pki import Certificate, MalformedCertificateError, ValidationResult, Validator
from jukicard.pki.conformance import certificate_violation, check_key_usage
from jukicard.pki.pathstate import PathFailure, PathState, SignatureChecks
from jukicard.pki.policy import Conformance, RevocationRule, ValidationPolicy
from jukicard.pki.reasons import CERTIFICATE_PROFILE_REASONS, Reason

ROOT_KEY = rsa_key("cf-root")
CA_KEY = rsa_key("cf-ca")
EE_KEY = rsa_key("cf-ee")
ROOT_DN, CA_DN, EE_DN = dn("cf Root"), dn("cf CA"), dn("cf EE")
EMPTY = x509.Name([])

Path = tuple[Certificate, ...]


# --------------------------------------------------------------------------- building
def root(**kw: Any) -> Certificate:
    return make_cert(kw.pop("subject", ROOT_DN), ROOT_KEY, ca=True, serial=1, **kw)


def ca(issuer: Certificate, **kw: Any) -> Certificate:
    return make_cert(kw.pop("subject", CA_DN), CA_KEY, issuer, ROOT_KEY, ca=True, serial=2,
                     **kw)


def ee(issuer: Certificate, key: Any = CA_KEY, **kw: Any) -> Certificate:
    return make_cert(kw.pop("subject", EE_DN), EE_KEY, issuer, key, serial=3, **kw)


def chain(*, root_kw: dict[str, Any] | None = None, ca_kw: dict[str, Any] | None = None,
          ee_kw: dict[str, Any] | None = None) -> Path:
    r = root(**(root_kw or {}))
    c = ca(r, **(ca_kw or {}))
    return r, c, ee(c, **(ee_kw or {}))


def resigned(cert: Certificate, key: Any, change: Callable[[Any], None]) -> Certificate:
    """``cert`` with its TBS edited by ``change`` (asn1crypto) and signed again by ``key``."""
    original = ax509.Certificate.load(cert.der)
    tbs = ax509.TbsCertificate.load(original["tbs_certificate"].dump())
    change(tbs)
    tbs_der = tbs.dump()
    signature = key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
    return Certificate.parse(ax509.Certificate({
        "tbs_certificate": ax509.TbsCertificate.load(tbs_der),
        "signature_algorithm": original["signature_algorithm"],
        "signature_value": signature,
    }).dump())


def raw_extension(oid: x509.ObjectIdentifier, der: bytes) -> x509.UnrecognizedExtension:
    """An extension with a hand-written DER value (``cryptography`` writes it as given)."""
    return x509.UnrecognizedExtension(oid, der)


# --------------------------------------------------------------------------- checking
def check(path: Path, conformance: Conformance = Conformance.STRICT,
          at: _dt.datetime = AT, **policy_kw: Any) -> tuple[ValidationResult, int | None]:
    """The validator's result for ``path`` (no revocation), and the position of the
    certificate at fault as the path state reports it."""
    policy = ValidationPolicy.permissive([path[0]], revocation=RevocationRule.NONE,
                                         conformance=conformance, **policy_kw)
    result = Validator(policy, intermediates=path[1:-1]).validate(path[-1], at)
    try:
        PathState.initialise(path, at, policy, SignatureChecks(policy)).run()
    except PathFailure as failure:
        return result, failure.position
    return result, None


def _defect_ee(**kw: Any) -> tuple[Path, int]:
    return chain(ee_kw=kw), 2


def _defect_ca(**kw: Any) -> tuple[Path, int]:
    return chain(ca_kw=kw), 1


def _edited_ee(change: Callable[[Any], None]) -> tuple[Path, int]:
    r, c, e = chain()
    return (r, c, resigned(e, CA_KEY, change)), 2


def _set(field: str, value: Any) -> Callable[[Any], None]:
    def change(tbs: Any) -> None:
        tbs[field] = value
    return change


def _generalized_not_before(tbs: Any) -> None:
    validity = tbs["validity"]
    tbs["validity"] = ax509.Validity({
        "not_before": ax509.Time(name="general_time", value=validity["not_before"].native),
        "not_after": validity["not_after"],
    })


def explicit_critical_false(extensions: Any, oid: str, extension_class: Any) -> list[Any]:
    """``extensions`` (asn1crypto) with the ``critical`` of ``oid`` written out as FALSE: a
    DEFAULT value encoded, which DER forbids (asn1crypto reads it, ``cryptography`` not)."""
    out = []
    for ext in extensions:
        if ext["extn_id"].dotted == oid:
            body = ext["extn_id"].dump() + bytes.fromhex("010100") + ext["extn_value"].dump()
            ext = extension_class.load(bytes([0x30, len(body)]) + body)
        out.append(ext)
    return out


def _explicit_critical_false(tbs: Any) -> None:
    tbs["extensions"] = ax509.Extensions(
        explicit_critical_false(tbs["extensions"], "2.5.29.14", ax509.Extension))


def _signature_params_absent() -> tuple[Path, int]:
    r, c, e = chain()
    a = ax509.Certificate.load(e.der)
    # sha256WithRSAEncryption without its NULL parameters (the TBS copy has them)
    a["signature_algorithm"] = ax509.SignedDigestAlgorithm.load(
        bytes.fromhex("300b06092a864886f70d01010b"))
    return (r, c, Certificate.parse(a.dump())), 2


def _empty_issuer() -> tuple[Path, int]:
    anchor = root(subject=EMPTY)
    return (anchor, ee(anchor, ROOT_KEY)), 0


def _empty_ca_subject() -> tuple[Path, int]:
    r = root()
    c = ca(r, subject=EMPTY)
    return (r, c, ee(c)), 1


def _aki_extension(key_id: bytes, critical: bool) -> dict[str, Any]:
    return {"authority_key_id": False, "extra_extensions": [
        (x509.AuthorityKeyIdentifier(key_id, None, None), critical)]}


def _ca_aki() -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(CA_KEY.public_key()).digest


_AIA = x509.AuthorityInformationAccess([x509.AccessDescription(
    AuthorityInformationAccessOID.CA_ISSUERS,
    x509.UniformResourceIdentifier("http://ca.example.invalid/ca.cer"))])

#: One builder per rule: a path with exactly that defect, and the position at fault.
CERT_DEFECTS: dict[Reason, Callable[[], tuple[Path, int]]] = {
    Reason.CERT_VERSION: lambda: _edited_ee(_set("version", "v2")),
    Reason.CERT_NOT_DER: lambda: _edited_ee(_explicit_critical_false),
    Reason.SERIAL_NOT_POSITIVE: lambda: _edited_ee(_set("serial_number", 0)),
    Reason.SERIAL_TOO_LONG: lambda: _edited_ee(_set("serial_number", 2 ** 160)),
    Reason.SIGNATURE_ALGORITHM_MISMATCH: _signature_params_absent,
    Reason.ISSUER_EMPTY: _empty_issuer,
    Reason.VALIDITY_TIME_ENCODING: lambda: _edited_ee(_generalized_not_before),
    Reason.CA_SUBJECT_EMPTY: _empty_ca_subject,
    Reason.EMPTY_SUBJECT_SAN: lambda: _defect_ee(subject=EMPTY, extra_extensions=[
        (x509.SubjectAlternativeName([x509.DNSName("ee.example.jp")]), False)]),
    # basicConstraints {cA FALSE} with the DEFAULT value encoded: BER, not DER
    Reason.MALFORMED_EXTENSION: lambda: _defect_ee(basic_constraints=False, extra_extensions=[
        (raw_extension(ExtensionOID.BASIC_CONSTRAINTS, bytes.fromhex("3003010100")), True)]),
    Reason.EXTENSION_EMPTY: lambda: _defect_ee(extra_extensions=[
        (raw_extension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, bytes.fromhex("3000")), False)]),
    Reason.AKI_MISSING: lambda: _defect_ee(authority_key_id=False),
    Reason.AKI_CRITICAL: lambda: _defect_ee(**_aki_extension(_ca_aki(), True)),
    Reason.AKI_MISMATCH: lambda: _defect_ee(**_aki_extension(b"\x01" * 20, False)),
    Reason.SKI_MISSING: lambda: _defect_ca(subject_key_id=False),
    Reason.SKI_CRITICAL: lambda: _defect_ca(subject_key_id=False, extra_extensions=[
        (x509.SubjectKeyIdentifier.from_public_key(CA_KEY.public_key()), True)]),
    Reason.KEY_USAGE_MISSING: lambda: _defect_ca(key_usage_ext=False),
    Reason.KEY_CERT_SIGN_NOT_CA: lambda: _defect_ee(key_usage={"key_cert_sign": True}),
    Reason.BASIC_CONSTRAINTS_MISSING: lambda: (chain(root_kw={"basic_constraints": False}), 0),
    Reason.BASIC_CONSTRAINTS_NOT_CRITICAL: lambda: _defect_ca(
        basic_constraints=False,
        extra_extensions=[(x509.BasicConstraints(ca=True, path_length=None), False)]),
    # basicConstraints {pathLenConstraint 0} in an end entity (cA absent: FALSE)
    Reason.PATH_LENGTH_WITHOUT_CA: lambda: _defect_ee(basic_constraints=False, extra_extensions=[
        (raw_extension(ExtensionOID.BASIC_CONSTRAINTS, bytes.fromhex("3003020100")), True)]),
    Reason.EXTENSION_NOT_CRITICAL: lambda: _defect_ca(extra_extensions=[
        (x509.PolicyConstraints(require_explicit_policy=None, inhibit_policy_mapping=4),
         False)]),
    Reason.EXTENSION_CRITICAL: lambda: _defect_ee(extra_extensions=[(_AIA, True)]),
    Reason.NAME_CONSTRAINTS_PROFILE: lambda: _defect_ee(extra_extensions=[
        (x509.NameConstraints([x509.DNSName("example.jp")], None), True)]),
}

#: Profile reasons tested elsewhere in this file (refused when parsing).
PARSE_TIME_REASONS = {Reason.DUPLICATE_EXTENSION}


# --------------------------------------------------------------------------- tests
def test_conformant_control_path_is_valid_under_strict() -> None:
    """The control: the same hierarchy without a defect is valid under the default."""
    path = chain()
    result, position = check(path)
    assert result.valid and position is None, result.message
    assert ValidationPolicy.permissive([path[0]]).conformance is Conformance.STRICT
    jpki = ValidationPolicy.jpki([path[0]], allow_test_anchors=True)
    assert jpki.conformance is Conformance.STRICT


@pytest.mark.parametrize("reason", list(CERT_DEFECTS), ids=str)
def test_certificate_defect_is_refused_with_its_own_reason(reason: Reason) -> None:
    """Fails on the old code (no profile checks: the path validated)."""
    path, position = CERT_DEFECTS[reason]()
    strict, at_fault = check(path)
    assert not strict.valid and strict.reason == reason, strict.message
    assert at_fault == position and f"(path position {position})" in strict.message
    lenient, _ = check(path, Conformance.LENIENT)
    assert lenient.valid, f"not the only defect: {lenient.reason}: {lenient.message}"


def test_every_certificate_profile_reason_has_a_defect_case() -> None:
    assert set(CERT_DEFECTS) | PARSE_TIME_REASONS == CERTIFICATE_PROFILE_REASONS


def test_empty_subject_with_a_critical_san_is_conformant() -> None:
    """The control of ``empty-subject-without-critical-san`` (RFC 5280 §4.1.2.6)."""
    path = chain(ee_kw={"subject": EMPTY, "extra_extensions": [
        (x509.SubjectAlternativeName([x509.DNSName("ee.example.jp")]), True)]})
    result, _ = check(path)
    assert result.valid, result.message


def test_name_constraint_with_a_minimum_is_refused() -> None:
    """RFC 5280 §4.2.1.10: "the minimum MUST be zero, and maximum MUST be absent".  Fails
    on the old code (accepted)."""
    value = ax509.NameConstraints({"permitted_subtrees": [
        {"base": ax509.GeneralName(name="dns_name", value="example.jp"), "minimum": 1}]})
    path = chain(ca_kw={"extra_extensions": [
        (raw_extension(ExtensionOID.NAME_CONSTRAINTS, value.dump()), True)]})
    strict, position = check(path)
    assert strict.reason == Reason.NAME_CONSTRAINTS_PROFILE and position == 1
    assert check(path, Conformance.LENIENT)[0].valid


def test_authority_cert_issuer_without_serial_is_malformed() -> None:
    """The ASN.1 of §4.2.1.1: authorityCertIssuer and authorityCertSerialNumber "MUST both
    be present or both be absent".  Fails on the old code (accepted)."""
    aki = ax509.AuthorityKeyIdentifier({
        "key_identifier": _ca_aki(),
        "authority_cert_issuer": [ax509.GeneralName(name="dns_name", value="ca.example.jp")]})
    path = chain(ee_kw={"authority_key_id": False, "extra_extensions": [
        (raw_extension(ExtensionOID.AUTHORITY_KEY_IDENTIFIER, aki.dump()), False)]})
    assert check(path)[0].reason == Reason.MALFORMED_EXTENSION
    assert check(path, Conformance.LENIENT)[0].valid


def test_self_signed_root_may_omit_aki_but_another_anchor_may_not() -> None:
    """§4.2.1.1: only a self-signed certificate may omit the AKI, whatever its place: an
    intermediate trusted as anchor needs one (position 0).  Fails on the old code."""
    r, c, e = chain()
    assert r.authority_key_identifier is None and check((r, c, e))[0].valid
    anchor = ca(r, authority_key_id=False)
    strict, position = check((anchor, ee(anchor)))
    assert strict.reason == Reason.AKI_MISSING and position == 0
    assert "trust anchor" in strict.message
    assert check((anchor, ee(anchor)), Conformance.LENIENT)[0].valid


def test_key_cert_sign_without_ca_is_checked_in_a_ca_target() -> None:
    """keyCertSign and cA: a target with cA TRUE and keyCertSign is fine; the pure check
    flags keyCertSign on any certificate whose cA is not TRUE (§4.2.1.3, §4.2.1.9)."""
    r, c, _ = chain()
    assert check((r, c))[0].valid
    e = chain(ee_kw={"key_usage": {"key_cert_sign": True}})[2]
    found = check_key_usage(e)
    assert found is not None and found.reason == Reason.KEY_CERT_SIGN_NOT_CA
    assert certificate_violation(c, issuer=True, self_signed=False) is None


def test_duplicate_extension_has_its_own_reason_when_parsed() -> None:
    """§4.2: "A certificate MUST NOT include more than one instance of a particular
    extension": refused when parsing, in every mode, as ``malformed-duplicate-extension``
    (a ``malformed-*`` code: raise_for_status gives MalformedCertificateError).  Fails on
    the old code (reason ``malformed-certificate``)."""
    _, c, e = chain()
    original = ax509.Certificate.load(e.der)
    tbs = ax509.TbsCertificate.load(original["tbs_certificate"].dump())
    exts = list(tbs["extensions"])
    tbs["extensions"] = ax509.Extensions([*exts, exts[0]])
    twice = ax509.Certificate({"tbs_certificate": tbs,
                               "signature_algorithm": original["signature_algorithm"],
                               "signature_value": original["signature_value"]}).dump()
    with pytest.raises(MalformedCertificateError) as info:
        Certificate.parse(twice)
    assert info.value.reason == Reason.DUPLICATE_EXTENSION
    policy = ValidationPolicy.permissive([c], conformance=Conformance.LENIENT)
    result = Validator(policy).validate(twice, AT)
    assert result.reason == Reason.DUPLICATE_EXTENSION
    with pytest.raises(MalformedCertificateError):
        result.raise_for_status()


def test_profile_failure_raises_a_typed_error() -> None:
    from jukicard.pki import PathValidationError

    path, _ = CERT_DEFECTS[Reason.AKI_MISSING]()
    with pytest.raises(PathValidationError) as info:
        check(path)[0].raise_for_status()
    assert info.value.reason == Reason.AKI_MISSING


def test_conformance_must_be_the_enum() -> None:
    with pytest.raises(UsageError):
        ValidationPolicy(trust_anchors=(root(),), conformance="lenient")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- anchor validity
def test_trust_anchor_validity_is_checked_under_strict_for_every_preset() -> None:
    """Strict: the anchor's own dates are checked even when ``check_anchor_validity`` is
    off (the permissive preset).  Fails on the old code (the path validated)."""
    expired_root = root(not_after=_dt.datetime(2024, 1, 1, tzinfo=UTC))
    c = ca(expired_root, not_after=NA)
    path = (expired_root, c, ee(c))
    strict, position = check(path)
    assert strict.reason == Reason.EXPIRED and position == 0
    assert "trust anchor" in strict.message
    assert check(path, Conformance.LENIENT)[0].valid
    lenient_checked, _ = check(path, Conformance.LENIENT, check_anchor_validity=True)
    assert lenient_checked.reason == Reason.EXPIRED


# --------------------------------------------------------------------------- one-second times
BOUNDARY = _dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("conformance", list(Conformance), ids=lambda c: c.value)
def test_validity_compared_at_the_second(conformance: Conformance) -> None:
    """X.509 times carry whole seconds: a validity ending at 12:00:00 still holds at
    12:00:00.999999 and not at 12:00:01; one starting at 12:00:00 does not hold at
    11:59:59.999999.  Fails on the old code (expired at 12:00:00.999999)."""
    r = root()
    c = ca(r)
    ending = ee(c, not_after=BOUNDARY)
    starting = ee(c, not_before=BOUNDARY)
    micro = _dt.timedelta(microseconds=999_999)
    assert check((r, c, ending), conformance, at=BOUNDARY + micro)[0].valid
    assert check((r, c, ending), conformance,
                 at=BOUNDARY + _dt.timedelta(seconds=1))[0].reason == Reason.EXPIRED
    assert check((r, c, starting), conformance, at=BOUNDARY)[0].valid
    assert check((r, c, starting), conformance,
                 at=BOUNDARY - _dt.timedelta(microseconds=1))[0].reason == Reason.NOT_YET_VALID
    # the validation time is reported as used: truncated to the second
    policy = ValidationPolicy.permissive([r], revocation=RevocationRule.NONE,
                                         conformance=conformance)
    result = Validator(policy, intermediates=[c]).validate(ending, BOUNDARY + micro)
    assert result.at == BOUNDARY


# --------------------------------------------------------------------------- odds and ends
def test_v2_certificate_to_cryptography_raises_value_error() -> None:
    """``Certificate.to_cryptography`` documents ValueError when ``cryptography`` refuses a
    certificate; for a v2 one it let ``cryptography``'s InvalidVersion (no ValueError)
    escape.  Fails on the old code."""
    path, _ = CERT_DEFECTS[Reason.CERT_VERSION]()
    assert path[-1].version == 2
    with pytest.raises(ValueError):
        path[-1].to_cryptography()


def test_every_profile_reason_is_listed_in_the_result_docstring() -> None:
    from jukicard.pki import result
    from jukicard.pki.reasons import CRL_PROFILE_REASONS

    doc = result.__doc__ or ""
    assert [r for r in CERTIFICATE_PROFILE_REASONS | CRL_PROFILE_REASONS if r not in doc] == []
