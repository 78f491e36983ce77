"""NIST PKITS (2011 data) path validation with CRL revocation, driven by
``vectors/pkits/pkits-index.json`` (255 entries, every test of PKITS 4.1–4.16).

Settings: validation time 2022-05-01T00:00:00Z, CRL required for every certificate of the
path (hard fail when undetermined), the index's default policy inputs overridden by each
entry's ``policy_params``, and the strict RFC 5280 §4/§5 profile (``Conformance.STRICT``,
the default of every policy) except for the entries of ``LENIENT_ENTRIES``, whose PKITS
certificates break a §4 rule the test does not intend (each listed with the rule;
``test_pkits_lenient_entries_are_refused_by_the_strict_profile`` checks that the strict
profile refuses exactly those, for exactly that rule).  Valid cases that cannot pass are
listed in ``XFAIL`` with the exact reason (strict); invalid cases are never xfailed and are
additionally checked by ``test_pkits_invalid_never_accepted``.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from jukicard.pki import (
    Certificate,
    Crl,
    CrlRevocationSource,
    Reason,
    ValidationPolicy,
    ValidationResult,
    Validator,
)
from jukicard.pki.policy import Conformance

PKITS_DIR = Path(__file__).resolve().parents[2] / "vectors" / "pkits"
AT = _dt.datetime(2022, 5, 1, tzinfo=_dt.UTC)

#: valid cases that fail closed, with the exact reason they do.
XFAIL: dict[str, str] = {}

#: PKITS (2011) marks policyConstraints non-critical in every CA that carries one (RFC 5280
#: §4.2.1.11: "Conforming CAs MUST mark this extension as critical"); these entries test
#: §6.1.3–§6.1.5 policy processing, not the criticality flag.
_POLICY_CONSTRAINTS_NOT_CRITICAL = (
    "4.8.4-DifferentPoliciesTest4", "4.8.5-DifferentPoliciesTest5",
    "4.8.6-OverlappingPoliciesTest6-v1", "4.8.6-OverlappingPoliciesTest6-v2",
    "4.8.6-OverlappingPoliciesTest6-v3", "4.8.6-OverlappingPoliciesTest6-v4",
    "4.8.7-DifferentPoliciesTest7", "4.8.8-DifferentPoliciesTest8",
    "4.8.9-DifferentPoliciesTest9", "4.8.10-AllCertificatesSamePoliciesTest10-v1",
    "4.8.10-AllCertificatesSamePoliciesTest10-v2", "4.8.10-AllCertificatesSamePoliciesTest10-v3",
    "4.8.11-AllCertificatesanyPolicyTest11-v1", "4.8.11-AllCertificatesanyPolicyTest11-v2",
    "4.8.12-DifferentPoliciesTest12", "4.8.13-AllCertificatesSamePoliciesTest13-v1",
    "4.8.13-AllCertificatesSamePoliciesTest13-v2", "4.8.13-AllCertificatesSamePoliciesTest13-v3",
    "4.8.13-AllCertificatesSamePoliciesTest13-v4", "4.8.13-AllCertificatesSamePoliciesTest13-v5",
    "4.8.14-AnyPolicyTest14-v1", "4.8.14-AnyPolicyTest14-v2", "4.8.14-AnyPolicyTest14-v3",
    "4.8.14-AnyPolicyTest14-v4", "4.8.18-UserNoticeQualifierTest18-v1",
    "4.8.18-UserNoticeQualifierTest18-v2", "4.10.1-ValidPolicyMappingTest1-v1",
    "4.10.1-ValidPolicyMappingTest1-v2", "4.10.1-ValidPolicyMappingTest1-v3",
    "4.10.1-ValidPolicyMappingTest1-v4", "4.10.2-InvalidPolicyMappingTest2-v1",
    "4.10.2-InvalidPolicyMappingTest2-v2", "4.10.3-ValidPolicyMappingTest3-v1",
    "4.10.3-ValidPolicyMappingTest3-v2", "4.10.4-InvalidPolicyMappingTest4",
    "4.10.5-ValidPolicyMappingTest5-v1", "4.10.5-ValidPolicyMappingTest5-v2",
    "4.10.6-ValidPolicyMappingTest6-v1", "4.10.6-ValidPolicyMappingTest6-v2",
    "4.10.9-ValidPolicyMappingTest9", "4.10.10-InvalidPolicyMappingTest10",
    "4.10.11-ValidPolicyMappingTest11", "4.10.12-ValidPolicyMappingTest12-v1",
    "4.10.12-ValidPolicyMappingTest12-v2", "4.10.13-ValidPolicyMappingTest13",
    "4.10.14-ValidPolicyMappingTest14", "4.12.1-InvalidinhibitAnyPolicyTest1",
    "4.12.2-ValidinhibitAnyPolicyTest2", "4.12.3-inhibitAnyPolicyTest3-v1",
    "4.12.3-inhibitAnyPolicyTest3-v2", "4.12.4-InvalidinhibitAnyPolicyTest4",
    "4.12.5-InvalidinhibitAnyPolicyTest5", "4.12.6-InvalidinhibitAnyPolicyTest6",
    "4.12.7-ValidSelfIssuedinhibitAnyPolicyTest7", "4.12.8-InvalidSelfIssuedinhibitAnyPolicyTest8",
    "4.12.9-ValidSelfIssuedinhibitAnyPolicyTest9",
    "4.12.10-InvalidSelfIssuedinhibitAnyPolicyTest10",
)

#: Entries run under ``Conformance.LENIENT``: a PKITS certificate of theirs breaks an
#: RFC 5280 §4 rule that the test does not intend; the value is the strict profile's reason
#: and why the entry needs the lenient switch.  Every other entry runs under STRICT.
LENIENT_ENTRIES: dict[str, tuple[Reason, str]] = {
    "4.2.4-ValidGeneralizedTimenotBeforeDateTest4": (
        Reason.VALIDITY_TIME_ENCODING,
        "the EE's notBefore (2002) is a GeneralizedTime; §4.1.2.5 requires UTCTime before "
        "2050. The test checks that §6.1.3 (a)(2) reads GeneralizedTime."),
    "4.4.15-InvalidNegativeSerialNumberTest15": (
        Reason.SERIAL_NOT_POSITIVE,
        "the EE's serial number is -1 (§4.1.2.2: MUST be positive). The test checks that "
        "the CRL look-up finds a negative serial (expected reason: revoked)."),
    "4.6.4-ValidbasicConstraintsNotCriticalTest4": (
        Reason.BASIC_CONSTRAINTS_NOT_CRITICAL,
        "the intermediate CA's basicConstraints is not critical (§4.2.1.9: MUST be critical "
        "in a CA certificate). The test checks that §6.1.4 (k) reads a non-critical one."),
    **{cid: (Reason.EXTENSION_NOT_CRITICAL,
             "a CA's policyConstraints is not critical (§4.2.1.11: MUST be critical); the "
             "test is about policy processing (§6.1.3 (d)–§6.1.5 (g))")
       for cid in _POLICY_CONSTRAINTS_NOT_CRITICAL},
}


@cache
def _index() -> dict[str, Any]:
    return json.loads((PKITS_DIR / "pkits-index.json").read_text(encoding="utf-8"))


@cache
def _cert(rel: str) -> Certificate:
    return Certificate.parse((PKITS_DIR / rel).read_bytes())


@cache
def _crl(rel: str) -> Crl:
    return Crl.parse((PKITS_DIR / rel).read_bytes())


def case_id(case: dict[str, Any]) -> str:
    variant = case.get("variant")
    suffix = f"-v{variant}" if variant is not None else ""
    return f"{case['pkits_id']}-{case['name']}{suffix}"


def load_cases() -> list[dict[str, Any]]:
    return list(_index()["cases"])


@dataclass(frozen=True)
class CaseOutcome:
    case: dict[str, Any]
    result: ValidationResult

    @property
    def got(self) -> str:
        return "valid" if self.result.valid else "invalid"

    @property
    def passed(self) -> bool:
        return self.got == self.case["expected"]


def policy_for(case: dict[str, Any], conformance: Conformance | None = None
               ) -> ValidationPolicy:
    """The entry's policy: STRICT unless the entry is in ``LENIENT_ENTRIES`` (or
    ``conformance`` says otherwise)."""
    settings = dict(_index()["default_settings"])
    settings.update(case.get("policy_params") or {})
    if conformance is None:
        conformance = Conformance.LENIENT if case_id(case) in LENIENT_ENTRIES \
            else Conformance.STRICT
    return ValidationPolicy.permissive(
        [_cert(_index()["trust_anchor"])],
        user_initial_policy_set=frozenset(settings["user_initial_policy_set"]),
        initial_explicit_policy=bool(settings["initial_explicit_policy"]),
        initial_policy_mapping_inhibit=bool(settings["initial_policy_mapping_inhibit"]),
        initial_any_policy_inhibit=bool(settings["initial_any_policy_inhibit"]),
        conformance=conformance,
    )


def run_case(case: dict[str, Any], conformance: Conformance | None = None) -> CaseOutcome:
    """Validate one index entry (CRL required for every certificate), under the entry's
    conformance (see :func:`policy_for`)."""
    revocation = CrlRevocationSource([_crl(p) for p in case["crls"]])
    prebuilt = case.get("prebuilt_path_intermediates")
    intermediates = [_cert(p) for p in (prebuilt or case["intermediates"])]
    validator = Validator(policy_for(case, conformance), intermediates=intermediates,
                          revocation=revocation)
    ee = _cert(case["ee_cert"])
    if prebuilt:
        # upstream gives the path pre-built (4.3.1/4.3.2): validate exactly that order
        path = [_cert(_index()["trust_anchor"]), *intermediates, ee]
        result = validator.validate_path(path, AT)
    else:
        result = validator.validate(ee, AT)
    return CaseOutcome(case, result)


CASES = load_cases()


def _params() -> list[Any]:
    out = []
    for case in CASES:
        cid = case_id(case)
        marks = []
        if cid in XFAIL:
            assert case["expected"] == "valid", "never xfail an invalid case"
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[cid]))
        out.append(pytest.param(case, id=cid, marks=marks))
    return out


def test_index_is_complete() -> None:
    assert len(CASES) == 255
    assert len({case_id(c) for c in CASES}) == 255


@pytest.mark.parametrize("case", _params())
def test_pkits(case: dict[str, Any]) -> None:
    outcome = run_case(case)
    res = outcome.result
    assert outcome.got == case["expected"], f"{res.reason}: {res.message}"
    if res.valid:
        assert res.reason == "ok"
        assert res.path[0] == _cert(_index()["trust_anchor"])
        assert res.path[-1] == _cert(case["ee_cert"])
        assert all(r.status is not None and r.status.state.value == "good"
                   for r in res.revocation)
        assert len(res.revocation) == len(res.path) - 1


def test_pkits_invalid_never_accepted() -> None:
    accepted = [case_id(c) for c in CASES
                if c["expected"] == "invalid" and run_case(c).result.valid]
    assert accepted == []


def test_pkits_lenient_entries_are_refused_by_the_strict_profile() -> None:
    """Each entry of ``LENIENT_ENTRIES`` is refused under STRICT with exactly its listed
    reason (so the list cannot hide anything else), and the list is complete: every other
    entry gives the same outcome under STRICT and LENIENT."""
    ids = {case_id(c): c for c in CASES}
    assert set(LENIENT_ENTRIES) <= set(ids)
    for cid, (reason, why) in LENIENT_ENTRIES.items():
        strict = run_case(ids[cid], Conformance.STRICT).result
        assert not strict.valid and strict.reason == reason, (cid, strict.reason, why)
    for cid, case in ids.items():
        if cid in LENIENT_ENTRIES:
            continue
        strict = run_case(case, Conformance.STRICT).result
        lenient = run_case(case, Conformance.LENIENT).result
        assert (strict.valid, strict.reason) == (lenient.valid, lenient.reason), cid


def test_pkits_xfail_list_only_valid_cases() -> None:
    ids = {case_id(c): c for c in CASES}
    for cid in XFAIL:
        assert cid in ids, cid
        assert ids[cid]["expected"] == "valid"


#: invalid cases where our reason code differs from the index's (OpenSSL-derived) one, and why.
KNOWN_REASON_DIFFERENCES: dict[str, str] = {
    "4.14.26-InvalidIDPwithindirectCRLTest26":
        "the DP's cRLIssuer (indirectCRL CA1x) issued no CRL at all: we report "
        "revocation-status-undetermined; OpenSSL reports the scope of CA1's CRL",
    "4.14.35-InvalidcRLIssuerTest35":
        "the DP's cRLIssuer (indirectCRL CA6) issued no CRL at all: we report "
        "revocation-status-undetermined; OpenSSL matches CA5's CRL by DP name and "
        "reports its scope",
}


def test_pkits_reason_codes_agree_with_index() -> None:
    disagree = {}
    for case in CASES:
        if "reason" not in case:
            continue
        got = run_case(case).result.reason
        if got != case["reason"]:
            disagree[case_id(case)] = (case["reason"], got)
    assert set(disagree) == set(KNOWN_REASON_DIFFERENCES), disagree
