"""``pki/manifest.json``: every generated file with its role, the CRL distribution-point
map, the residents' synthetic data and the validation cases (expected outcome and error
class, named as in :mod:`jukicard.errors`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.testing.pkigen.carddata import CvSet
from jukicard.testing.pkigen.crlgen import CrlRecord, reason_name
from jukicard.testing.pkigen.keys import key_path
from jukicard.testing.pkigen.names import arl_path, crl_path, cv_path
from jukicard.testing.pkigen.personas import Resident
from jukicard.testing.pkigen.profiles import ProfilePlan
from jukicard.testing.pkigen.timeline import REFERENCE_TIME, iso
from jukicard.testing.pkigen.x509gen import CaInfo, IssuedCert, der

__all__ = [
    "MANIFEST_FORMAT",
    "GENERATOR",
    "ca_entry",
    "ee_entry",
    "cv_entries",
    "crl_entry",
    "resident_entry",
    "card_entry",
    "crl_dp_map",
    "cases",
    "build_manifest",
]

MANIFEST_FORMAT = "jukicard-pki-manifest/1"
GENERATOR = "python -m jukicard.testing.pkigen"
_NOTES = [
    "Paths are relative to the pki/ folder, except card profile paths (relative "
    "to the vectors/ folder).",
    "Root generations of one kind share the SAME subject DN (as the real JPKI "
    "roots do); tell them apart by SKI/AKI and signature.",
    "Names are given as RFC 4514 strings (most specific RDN first).",
    "crl_dp_map maps a CRL distribution point DirName to candidate CRL files; "
    "several generations can share one DirName.",
]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- files
def _cert_entry(cert: x509.Certificate, path: str, role: str, **extra: Any) -> dict[str, Any]:
    pub = cert.public_key()
    entry: dict[str, Any] = {
        "path": path,
        "kind": "certificate",
        "role": role,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": cert.serial_number,
        "serial_hex": f"{cert.serial_number:X}",
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "key_bits": pub.key_size if isinstance(pub, rsa.RSAPublicKey) else None,
        "sha256": _sha256(der(cert)),
    }
    entry.update(extra)
    return entry


def ca_entry(ca: CaInfo) -> dict[str, Any]:
    """The manifest entry of a root."""
    return _cert_entry(
        ca.cert,
        ca.path,
        f"{ca.kind}-root",
        id=ca.id,
        generation=ca.generation,
        key=key_path(ca.key_name),
        issuer_cert=ca.path,
        expired=ca.expired,
        revoked=False,
        ski=ca.ski.hex(),
    )


def ee_entry(ee: IssuedCert) -> dict[str, Any]:
    """The manifest entry of an end-entity certificate."""
    revocation = None
    if ee.revocation is not None:
        revocation = {
            "reason": reason_name(ee.revocation.reason),
            "revoked_at": iso(ee.revocation.when),
            "crl": crl_path(ee.ca.id),
        }
    return _cert_entry(
        ee.cert,
        ee.path,
        f"{ee.kind}-ee",
        id=ee.id,
        resident=ee.resident.id,
        generation=ee.resident.plan.generation,
        key=key_path(ee.key_name),
        issuer_cert=ee.ca.path,
        issuer_ca=ee.ca.id,
        crl_dp=ee.crl_dp.rfc4514_string(),
        operator=ee.resident.plan.operator and ee.kind == "auth",
        revoked=ee.revocation is not None,
        revocation=revocation,
    )


def cv_entries(cv: CvSet) -> list[dict[str, Any]]:
    """The manifest entries of the CV certificates (the root first)."""
    root = cv_path(next(iter(cv.certs)))
    return [
        {
            "path": cv_path(name),
            "kind": "cv-certificate",
            "role": f"cv-{name}",
            "car": c.car.hex(),
            "chr": c.chr.hex(),
            "key": key_path(CvSet.key_name(name)),
            "issuer": root,
            "self_issued": c.is_self_issued,
            "sha256": _sha256(bytes(c)),
        }
        for name, c in cv.certs.items()
    ]


def crl_entry(crl: CrlRecord) -> dict[str, Any]:
    """The manifest entry of a CRL or ARL."""
    return {
        "path": crl.path,
        "kind": "crl",
        "role": crl.role,
        "issuer": crl.ca.cert.subject.rfc4514_string(),
        "issuer_ca": crl.ca.id,
        "issuer_cert": crl.ca.path,
        "crl_number": crl.number,
        "this_update": iso(crl.this_update),
        "next_update": iso(crl.next_update),
        "signed_by": key_path(crl.signer_key),
        "revoked": [
            {
                "serial": e.serial,
                "serial_hex": f"{e.serial:X}",
                "revoked_at": iso(e.when),
                "reason": reason_name(e.reason),
            }
            for e in crl.entries
        ],
        "sha256": _sha256(crl.der),
        "scope": crl.scope,
        "stale": crl.stale,
        "wrong_key": crl.wrong_key,
        "issuer_expired": crl.issuer_expired,
    }


def crl_dp_map(issued: Iterable[IssuedCert], cas: Iterable[CaInfo]) -> dict[str, list[str]]:
    """CRL distribution point DirName (RFC 4514) → candidate CRL files: the end entities'
    DPs first (in issuance order), then each root's own name → its ARL."""
    dp_map: dict[str, list[str]] = {}
    for ee in issued:
        targets = dp_map.setdefault(ee.crl_dp.rfc4514_string(), [])
        if crl_path(ee.ca.id) not in targets:
            targets.append(crl_path(ee.ca.id))
    for ca in cas:
        dp_map.setdefault(ca.cert.subject.rfc4514_string(), []).append(arl_path(ca.id))
    return dp_map


# --------------------------------------------------------------------------- people, cards
def resident_entry(res: Resident, issued: Sequence[IssuedCert]) -> dict[str, Any]:
    """Synthetic data of one test resident (tests compare card reads against this).

    :param issued: the resident's own end-entity certificates, in issuance order.
    """
    plan = res.plan
    entry: dict[str, Any] = {
        "id": res.id,
        "profile": f"cards/{plan.profile}.json",
        "card_type": plan.card_type,
        "generation": plan.generation,
        "operator": plan.operator,
        "certs": {ee.kind: ee.path for ee in issued},
        "keys": {ee.kind: key_path(ee.key_name) for ee in issued},
    }
    if plan.is_juki:
        entry["juki_code"] = res.juki_code
    else:
        entry.update(
            {
                "my_number": res.my_number,
                "name": res.name,
                "address": res.address,
                "birth": res.birth.isoformat(),
                "sex": res.sex.value,
                "card_expiry": res.card_expiry.isoformat(),
                "card_id": res.card_id,
            }
        )
    entry["pins"] = {p.key: p.value for p in res.pins}
    return entry


def card_entry(plan: ProfilePlan) -> dict[str, Any]:
    """The manifest entry of a card profile."""
    return {
        "path": plan.path,
        "resident": plan.resident,
        "atr": plan.atr,
        "extended_length": plan.extended_length,
    }


# --------------------------------------------------------------------------- cases
def _case(
    cid: str,
    leaf: str,
    anchor: str,
    crls: list[str],
    expected: str,
    error: str | None,
    reason: str,
    when: _dt.datetime = REFERENCE_TIME,
) -> dict[str, Any]:
    return {
        "id": cid,
        "leaf": leaf,
        "anchor": anchor,
        "crls": crls,
        "at": iso(when),
        "expected": expected,
        "error": error,
        "reason": reason,
    }


def cases(issued: Mapping[str, IssuedCert]) -> list[dict[str, Any]]:
    """Validation cases for the CRL validator (outcome names match jukicard.errors).

    :param issued: the end-entity certificates by id (``r1-auth``...).
    """
    r1_auth_end = issued["r1-auth"].cert.not_valid_after_utc
    expired_root = "issued by the 2015 generation, whose root expired 2025-10-19"
    return [
        _case("r1-auth-valid", "ee/r1-auth.cer", "ca/auth-2023.cer", ["crl/auth-2023.crl"],
              "valid", None, "current auth cert, fresh CRL without it"),
        _case("r1-sign-valid", "ee/r1-sign.cer", "ca/sign-2023.cer", ["crl/sign-2023.crl"],
              "valid", None, "current sign cert, fresh CRL without it"),
        _case("r2-auth-valid", "ee/r2-auth.cer", "ca/auth-2023.cer", ["crl/auth-2023.crl"],
              "valid", None, "auth cert stays valid when the sign cert is revoked"),
        _case("r2-sign-revoked", "ee/r2-sign.cer", "ca/sign-2023.cer", ["crl/sign-2023.crl"],
              "revoked", "RevokedError", "listed affiliationChanged at 2026-05-10T03:00:00Z"),
        _case("r2-sign-before-revocation", "ee/r2-sign.cer", "ca/sign-2023.cer",
              ["crl/sign-2023-stale.crl"], "valid", None,
              "at 2026-04-30 the stale CRL is still current and does not list the cert",
              when=_dt.datetime(2026, 4, 30, tzinfo=_dt.UTC)),
        _case("r1-sign-stale-crl-only", "ee/r1-sign.cer", "ca/sign-2023.cer",
              ["crl/sign-2023-stale.crl"], "indeterminate", "IndeterminateError",
              "only CRL is past its nextUpdate"),
        _case("r2-sign-stale-crl-only", "ee/r2-sign.cer", "ca/sign-2023.cer",
              ["crl/sign-2023-stale.crl"], "indeterminate", "IndeterminateError",
              "stale CRL does not list the revocation: must not pass as valid"),
        _case("r1-auth-wrong-key-crl", "ee/r1-auth.cer", "ca/auth-2023.cer",
              ["crl/auth-2023-wrongkey.crl"], "indeterminate", "IndeterminateError",
              "only CRL has the right issuer name/AKI but a signature by another key"),
        _case("r1-auth-wrong-key-and-good-crl", "ee/r1-auth.cer", "ca/auth-2023.cer",
              ["crl/auth-2023-wrongkey.crl", "crl/auth-2023.crl"], "valid", None,
              "the forged CRL (higher CRL number) must be ignored, the genuine one used"),
        _case("r1-auth-no-crl", "ee/r1-auth.cer", "ca/auth-2023.cer", [], "indeterminate",
              "IndeterminateError", "no revocation data under a CRL-required policy"),
        _case("r1-auth-wrong-generation-anchor", "ee/r1-auth.cer", "ca/auth-2019.cer",
              ["crl/auth-2019.crl"], "invalid", "ValidationError",
              "same anchor name, different key: signature/AKI mismatch"),
        _case("r1-auth-expired-later", "ee/r1-auth.cer", "ca/auth-2023.cer",
              ["crl/auth-2023.crl"], "expired", "ExpiredError",
              "validated after the cert's notAfter", when=r1_auth_end + _dt.timedelta(days=1)),
        _case("r3-auth-ca-expired", "ee/r3-auth.cer", "ca/auth-2015.cer",
              ["crl/auth-2015.crl"], "expired", "ExpiredError", expired_root),
        _case("r3-sign-ca-expired", "ee/r3-sign.cer", "ca/sign-2015.cer",
              ["crl/sign-2015.crl"], "expired", "ExpiredError", expired_root),
        _case("operator-auth-valid", "ee/operator-auth.cer", "ca/auth-2019.cer",
              ["crl/auth-2019.crl"], "valid", None, "operator card, 2019 generation"),
        _case("juki1-sign-rsa1024", "ee/juki1-sign.cer", "ca/sign-2019.cer",
              ["crl/sign-2019.crl"], "invalid", "ValidationError",
              "RSA-1024 end-entity key: rejected by a policy requiring RSA >= 2048 "
              "(otherwise valid: dates and CRL are fine)"),
    ]


# --------------------------------------------------------------------------- the manifest
def build_manifest(
    *,
    seed: int,
    cas: Mapping[str, CaInfo],
    issued: Sequence[IssuedCert],
    cv: CvSet,
    crls: Sequence[CrlRecord],
    residents: Sequence[Resident],
    cards: Sequence[ProfilePlan],
) -> dict[str, Any]:
    """The whole manifest, in the order the generator made things."""
    return {
        "format": MANIFEST_FORMAT,
        "description": "jukicard TEST PKI: every key, certificate, CRL and personal datum is "
        "synthetic test material generated by jukicard.testing.pkigen.",
        "generator": GENERATOR,
        "seed": seed,
        "reference_time": iso(REFERENCE_TIME),
        "notes": list(_NOTES),
        "files": [ca_entry(ca) for ca in cas.values()]
        + [ee_entry(ee) for ee in issued]
        + cv_entries(cv),
        "crls": [crl_entry(c) for c in crls],
        "crl_dp_map": crl_dp_map(issued, cas.values()),
        "residents": [
            resident_entry(r, [ee for ee in issued if ee.resident.id == r.id])
            for r in residents
        ],
        "cards": [card_entry(c) for c in cards],
        "cases": cases({ee.id: ee for ee in issued}),
    }
