"""The strict RFC 5280 §5 CRL profile (jukicard.pki.conformance), rule by rule.

A conformant hierarchy root → CA → end entity with a conformant CRL per CA, under a
CRL-required policy; each case replaces the CA's CRL by one that differs in exactly one §5
rule.  Under ``Conformance.STRICT`` (the default) that CRL is not used: the end entity's
status is undetermined with the rule's own reason (fail closed, IndeterminateError); under
``Conformance.LENIENT`` the path validates, so the rule is the only defect.  Every one of
these tests fails on the old code, which used such CRLs.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

import pytest
from asn1crypto import crl as acrl
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID
from test_pki_conformance import CA_KEY, ROOT_KEY, chain, explicit_critical_false, raw_extension
from test_pki_factory import AT, UTC, dn, make_cert, make_crl, rsa_key

from jukicard.errors import IndeterminateError
from jukicard.pki import Certificate, Crl, CrlRevocationSource, RevocationState, Validator
from jukicard.pki.conformance_crl import crl_violation
from jukicard.pki.policy import Conformance, ValidationPolicy
from jukicard.pki.reasons import CRL_PROFILE_REASONS, INDETERMINATE_REASONS, Reason

ROOT, CA, EE = chain()


def ca_crl(**kw: Any) -> Crl:
    return make_crl(CA, CA_KEY, **kw)


def validate(ca_crls: list[Crl], conformance: Conformance = Conformance.STRICT,
             intermediates: tuple[Certificate, ...] = (CA,)) -> Any:
    policy = ValidationPolicy.permissive([ROOT], conformance=conformance)
    source = CrlRevocationSource([make_crl(ROOT, ROOT_KEY), *ca_crls])
    return Validator(policy, intermediates=intermediates, revocation=source).validate(EE, AT)


def resigned(crl: Crl, change: Callable[[Any], None], key: Any = CA_KEY) -> Crl:
    """``crl`` with its TBS edited by ``change`` (asn1crypto) and signed again."""
    original = acrl.CertificateList.load(crl.der)
    tbs = acrl.TbsCertList.load(original["tbs_cert_list"].dump())
    change(tbs)
    tbs_der = tbs.dump()
    return Crl.parse(acrl.CertificateList({
        "tbs_cert_list": acrl.TbsCertList.load(tbs_der),
        "signature_algorithm": original["signature_algorithm"],
        "signature": key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256()),
    }).dump())


def _v1(tbs: Any) -> None:
    tbs["version"] = None  # OPTIONAL field absent: a v1 CRL (that still has extensions)


def _generalized_this_update(tbs: Any) -> None:
    tbs["this_update"] = ax509.Time(name="general_time", value=tbs["this_update"].native)


def _explicit_critical_false(tbs: Any) -> None:
    tbs["crl_extensions"] = acrl.TBSCertListExtensions(explicit_critical_false(
        tbs["crl_extensions"], "2.5.29.20", acrl.TBSCertListExtension))  # the cRLNumber


def _outer_params_absent() -> Crl:
    a = acrl.CertificateList.load(ca_crl().der)
    # sha256WithRSAEncryption without its NULL parameters (the TBS copy has them)
    a["signature_algorithm"] = ax509.SignedDigestAlgorithm.load(
        bytes.fromhex("300b06092a864886f70d01010b"))
    return Crl.parse(a.dump())


def _ca_aki(critical: bool) -> list[tuple[x509.ExtensionType, bool]]:
    return [(x509.AuthorityKeyIdentifier.from_issuer_public_key(CA_KEY.public_key()),
             critical)]


#: One builder per rule: the CA's CRL with exactly that defect.
CRL_DEFECTS: dict[Reason, Callable[[], Crl]] = {
    Reason.CRL_VERSION: lambda: resigned(ca_crl(), _v1),
    Reason.CRL_SIGNATURE_ALGORITHM_MISMATCH: _outer_params_absent,
    Reason.CRL_NOT_DER: lambda: resigned(ca_crl(), _explicit_critical_false),
    Reason.CRL_TIME_ENCODING: lambda: resigned(ca_crl(), _generalized_this_update),
    Reason.CRL_EXTENSION_MALFORMED: lambda: ca_crl(extra_extensions=[
        (raw_extension(ExtensionOID.ISSUING_DISTRIBUTION_POINT, bytes.fromhex("3000")),
         True)]),
    Reason.CRL_NUMBER_MISSING: lambda: ca_crl(number=None),
    Reason.CRL_NUMBER_CRITICAL: lambda: ca_crl(
        number=None, extra_extensions=[(x509.CRLNumber(7), True)]),
    Reason.CRL_NUMBER_RANGE: lambda: ca_crl(number=2 ** 168),
    Reason.CRL_AKI_MISSING: lambda: ca_crl(authority_key_id=False),
    Reason.CRL_EXTENSION_CRITICALITY: lambda: ca_crl(
        authority_key_id=False, extra_extensions=_ca_aki(True)),
    Reason.CRL_ENTRY_EXTENSION_INVALID: lambda: ca_crl(
        revoked=[(999, _dt.datetime(2024, 2, 1, tzinfo=UTC), None)],
        entry_extensions=[(x509.CertificateIssuer([x509.DirectoryName(dn("other CA"))]),
                           False)]),
}

#: Profile reasons checked here on the pure function only (no path can reach them first).
PURE_ONLY = {Reason.CRL_ISSUER_EMPTY}


def test_conformant_crls_give_a_valid_path() -> None:
    """The control: the same hierarchy with conformant CRLs is valid under the default."""
    assert crl_violation(ca_crl()) is None
    result = validate([ca_crl()])
    assert result.valid, result.message


@pytest.mark.parametrize("reason", list(CRL_DEFECTS), ids=str)
def test_crl_defect_leaves_the_status_undetermined(reason: Reason) -> None:
    """Fails on the old code (the CRL was used: the path validated)."""
    crl = CRL_DEFECTS[reason]()
    found = crl_violation(crl)
    assert found is not None and found.reason == reason
    strict = validate([crl])
    assert not strict.valid and strict.reason == reason, strict.message
    assert strict.revocation[-1].status is not None
    assert strict.revocation[-1].status.state is RevocationState.UNKNOWN
    with pytest.raises(IndeterminateError):
        strict.raise_for_status()
    lenient = validate([crl], Conformance.LENIENT)
    assert lenient.valid, f"not the only defect: {lenient.reason}: {lenient.message}"


def test_every_crl_profile_reason_has_a_defect_case() -> None:
    assert set(CRL_DEFECTS) | PURE_ONLY == CRL_PROFILE_REASONS
    assert CRL_PROFILE_REASONS <= INDETERMINATE_REASONS


def test_a_conformant_crl_is_still_used_beside_a_defective_one() -> None:
    """A non-conformant CRL is skipped, never fatal by itself: a conformant one of the same
    issuer answers."""
    result = validate([ca_crl(number=None, this_update=_dt.datetime(2024, 5, 20, tzinfo=UTC)),
                       ca_crl()])
    assert result.valid, result.message


def test_crl_with_an_empty_issuer_name() -> None:
    """RFC 5280 §5.1.2.3: "The issuer field MUST contain a non-empty X.500 distinguished
    name".  (No path reaches it first: its issuer would be a CA with an empty subject.)"""
    crl = make_crl(CA, CA_KEY, issuer_name=x509.Name([]))
    found = crl_violation(crl)
    assert found is not None and found.reason == Reason.CRL_ISSUER_EMPTY


def test_non_der_entry_extension_is_refused() -> None:
    """§5.3: a reasonCode ENUMERATED with a non-minimal encoding (asn1crypto reads it,
    ``cryptography``'s DER parser does not).  Fails on the old code (used)."""
    crl = ca_crl(revoked=[(999, _dt.datetime(2024, 2, 1, tzinfo=UTC), None)],
                 entry_extensions=[(raw_extension(CRLEntryExtensionOID.CRL_REASON,
                                                  bytes.fromhex("0a020001")), False)])
    found = crl_violation(crl)
    assert found is not None and found.reason == Reason.CRL_ENTRY_EXTENSION_INVALID
    assert validate([crl]).reason == Reason.CRL_ENTRY_EXTENSION_INVALID
    assert validate([crl], Conformance.LENIENT).valid


def test_delta_crl_is_held_to_the_profile() -> None:
    """A delta CRL without an AKI: under strict it is unusable, and a complete CRL whose
    deltas are all unusable is not current enough (fail closed).  Fails on the old code."""
    base = ca_crl(number=5)
    delta = make_crl(CA, CA_KEY, number=6, delta_base=5, authority_key_id=False)
    strict = validate([base, delta])
    assert strict.reason == Reason.CRL_AKI_MISSING, strict.message
    assert validate([base, delta], Conformance.LENIENT).valid


def test_crl_signer_without_key_usage() -> None:
    """§4.2.1.3: keyUsage MUST be present in a certificate whose key verifies CRLs; under
    strict a signer without it does not assert cRLSign.  The standalone source (no
    validator) is strict.  Fails on the old code (GOOD)."""
    issuer = make_cert(dn("cf keyless CA"), rsa_key("cf-keyless"), ROOT, ROOT_KEY, ca=True,
                       serial=40, key_usage_ext=False)
    leaf = make_cert(dn("cf keyless EE"), rsa_key("cf-ee"), issuer, rsa_key("cf-keyless"),
                     serial=41)
    crl = make_crl(issuer, rsa_key("cf-keyless"))
    status = CrlRevocationSource([crl]).status(leaf, issuer, AT)
    assert status.state is RevocationState.UNKNOWN
    assert status.problem == Reason.CRL_NO_CRLSIGN


def test_separate_crl_signer_path_is_held_to_the_profile() -> None:
    """A CRL signed by a separate certificate of the CA's name: that certificate's own path
    is validated under the same conformance; without an AKI it fails under strict
    (crl-path-validation-error).  Fails on the old code."""
    signer_key = rsa_key("cf-crlsigner")

    def signer(**kw: Any) -> Certificate:
        return make_cert(CA.to_cryptography().subject, signer_key, ROOT, ROOT_KEY, serial=50,
                         key_usage={"digital_signature": False, "crl_sign": True}, **kw)

    crl = make_crl(CA, signer_key)
    good = validate([crl], intermediates=(CA, signer()))
    assert good.valid, good.message
    bad = validate([crl], intermediates=(CA, signer(authority_key_id=False)))
    assert bad.reason == Reason.CRL_PATH and "authority-key-identifier-missing" in bad.message
    assert validate([crl], Conformance.LENIENT,
                    intermediates=(CA, signer(authority_key_id=False))).valid


def test_crl_freshness_compared_at_the_second() -> None:
    """nextUpdate 12:00:00 is still current at 12:00:00.999999 (and stale at 12:00:01);
    a revocation dated 12:00:00 applies at 12:00:00.5 but not at 11:59:59.5.  Fails on the
    old code (stale a fraction of a second after nextUpdate)."""
    boundary = _dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
    crl = ca_crl(next_update=boundary)
    source = CrlRevocationSource([crl])
    micro = _dt.timedelta(microseconds=999_999)
    assert source.status(EE, CA, boundary + micro).state is RevocationState.GOOD
    late = source.status(EE, CA, boundary + _dt.timedelta(seconds=1))
    assert late.state is RevocationState.UNKNOWN and late.problem == Reason.CRL_STALE
    revoking = CrlRevocationSource([ca_crl(revoked=[(EE.serial, boundary, None)])])
    half = _dt.timedelta(microseconds=500_000)
    assert revoking.status(EE, CA, boundary + half).state is RevocationState.REVOKED
    assert revoking.status(EE, CA, boundary - half).state is RevocationState.GOOD


def test_a_callers_context_without_conformance_is_strict() -> None:
    """``RevocationContext`` gained ``conformance``; a caller's own context written before
    it still works, and is taken as STRICT."""
    class OldContext:  # the protocol as it was before issue 9
        at = AT
        clock_skew = _dt.timedelta(0)
        use_delta_crls = True
        path = (ROOT, CA, EE)

        def signer_candidates(self, issuer: Any) -> list[Certificate]:
            return [CA] if CA.subject_key == issuer else []

        def public_key(self, cert: Certificate) -> Any:
            return CA_KEY.public_key()

        def check_algorithm(self, signature_algorithm: Any, key: Any) -> None:
            return None

        def validate_crl_signer(self, signer: Certificate, crl: Crl) -> str | None:
            return None

    good = CrlRevocationSource([ca_crl()]).status(EE, CA, AT, context=OldContext())
    assert good.state is RevocationState.GOOD
    bad = CrlRevocationSource([ca_crl(number=None)]).status(EE, CA, AT, context=OldContext())
    assert bad.state is RevocationState.UNKNOWN and bad.problem == Reason.CRL_NUMBER_MISSING
