"""NIST PKITS (2011 data) path validation with CRL revocation, driven by
``vectors/pkits/pkits-index.json`` (255 entries, every test of PKITS 4.1–4.16).

Settings: validation time 2022-05-01T00:00:00Z, CRL required for every certificate of the
path (hard fail when undetermined), the index's default policy inputs overridden by each
entry's ``policy_params``.  Valid cases that cannot pass are listed in ``XFAIL`` with the
exact reason (strict); invalid cases are never xfailed and are additionally checked by
``test_pkits_invalid_never_accepted``.
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
    ValidationPolicy,
    ValidationResult,
    Validator,
)

PKITS_DIR = Path(__file__).resolve().parents[2] / "vectors" / "pkits"
AT = _dt.datetime(2022, 5, 1, tzinfo=_dt.UTC)

#: valid cases that fail closed, with the exact reason they do.
XFAIL: dict[str, str] = {}


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


def policy_for(case: dict[str, Any]) -> ValidationPolicy:
    settings = dict(_index()["default_settings"])
    settings.update(case.get("policy_params") or {})
    return ValidationPolicy.permissive(
        [_cert(_index()["trust_anchor"])],
        user_initial_policy_set=frozenset(settings["user_initial_policy_set"]),
        initial_explicit_policy=bool(settings["initial_explicit_policy"]),
        initial_policy_mapping_inhibit=bool(settings["initial_policy_mapping_inhibit"]),
        initial_any_policy_inhibit=bool(settings["initial_any_policy_inhibit"]),
    )


def run_case(case: dict[str, Any]) -> CaseOutcome:
    """Validate one index entry (CRL required for every certificate)."""
    revocation = CrlRevocationSource([_crl(p) for p in case["crls"]])
    prebuilt = case.get("prebuilt_path_intermediates")
    intermediates = [_cert(p) for p in (prebuilt or case["intermediates"])]
    validator = Validator(policy_for(case), intermediates=intermediates, revocation=revocation)
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
