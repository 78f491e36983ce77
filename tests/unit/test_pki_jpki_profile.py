"""JPKI profile and revocation scenarios on the generated test PKI (``vectors/pki``).

Scenarios: revoked sign certificate, expired CA, sign certificate used as auth, CRL past
nextUpdate, CRL signed by the wrong key; plus the SAN decoder against the manifest's
residents, and signatures/CMS made with the residents' test keys, validated end to end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7

from jukicard.errors import (
    ExpiredError,
    IndeterminateError,
    RevokedError,
    UsageError,
    ValidationError,
)
from jukicard.pki.certs import load_certificate
from jukicard.pki.cms import verify_cms
from jukicard.pki.jpki import (
    JpkiSubjectInfo,
    ca_generation,
    certificate_kind,
    check_profile,
)
from jukicard.pki.policy import Conformance, ValidationPolicy
from jukicard.pki.revocation import CrlRevocationSource
from jukicard.pki.signatures import build_digest_info, verify_pkcs1v15
from jukicard.pki.validate import Validator

PKI = Path(__file__).resolve().parents[2] / "vectors" / "pki"

UTC = dt.UTC


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((PKI / "manifest.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def at(manifest) -> dt.datetime:
    return dt.datetime.fromisoformat(manifest["reference_time"].replace("Z", "+00:00"))


def cert(rel: str):
    return load_certificate((PKI / rel).read_bytes())


def validator(anchor: str, *crls: str, **policy) -> Validator:
    # the test PKI's roots are test anchors: the production preset needs them allowed
    pol = ValidationPolicy.jpki([cert(anchor)], allow_test_anchors=True, **policy)
    return Validator(pol, revocation=CrlRevocationSource([(PKI / c).read_bytes() for c in crls]))


# --------------------------------------------------------------------------- scenarios
def test_valid_sign_and_auth(at) -> None:
    for kind in ("sign", "auth"):
        res = validator(f"ca/{kind}-2023.cer", f"crl/{kind}-2023.crl").validate(
            cert(f"ee/r1-{kind}.cer"), at)
        assert res.valid, res.message
        assert check_profile(list(res.path), at, expected_usage=kind) == []


def test_revoked_sign_certificate(at) -> None:
    res = validator("ca/sign-2023.cer", "crl/sign-2023.crl").validate(cert("ee/r2-sign.cer"), at)
    assert not res.valid and res.reason == "revoked"
    with pytest.raises(RevokedError) as ei:
        res.raise_for_status()
    assert ei.value.revocation_reason == "affiliationChanged"
    assert ei.value.revoked_at == dt.datetime(2026, 5, 10, 3, 0, tzinfo=UTC)
    # the holder's auth certificate stays valid (§11.2: only the sign cert is revoked)
    assert validator("ca/auth-2023.cer", "crl/auth-2023.crl").validate(
        cert("ee/r2-auth.cer"), at).valid


def test_revoked_certificate_before_revocation_with_the_then_current_crl() -> None:
    when = dt.datetime(2026, 4, 30, tzinfo=UTC)
    res = validator("ca/sign-2023.cer", "crl/sign-2023-stale.crl").validate(
        cert("ee/r2-sign.cer"), when)
    assert res.valid, res.message


def test_expired_ca(at) -> None:
    path = [cert("ca/sign-2015.cer"), cert("ee/r3-sign.cer")]
    assert ca_generation(path[0]) == "2015"
    assert {p.code for p in check_profile(path, at)} == {"ca-expired"}  # type: ignore[attr-defined]
    res = validator("ca/sign-2015.cer", "crl/sign-2015.crl").validate(path[1], at)
    # the JPKI policy checks the anchor's own validity (check_anchor_validity)
    assert not res.valid and res.reason == "certificate-expired", res.message
    assert "trust anchor" in res.message
    with pytest.raises(ExpiredError):
        res.raise_for_status()
    # the profile check alone also catches it when anchor validity is not checked (which
    # needs the lenient profile: the strict one always checks the anchor's dates)
    res = validator("ca/sign-2015.cer", "crl/sign-2015.crl", check_anchor_validity=False,
                    conformance=Conformance.LENIENT).validate(path[1], at)
    assert not res.valid and res.reason == "jpki-profile-violation"
    assert "ca-expired" in res.message
    # before the root expired, the same path was fine
    earlier = dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert check_profile(path, earlier) == []


def test_sign_certificate_used_as_auth(at) -> None:
    res = validator("ca/sign-2023.cer", "crl/sign-2023.crl").validate(cert("ee/r1-sign.cer"), at)
    assert res.valid
    problems = check_profile(list(res.path), at, expected_usage="auth")
    assert [p.code for p in problems] == ["wrong-usage"]  # type: ignore[attr-defined]
    # and an auth certificate is not a signing certificate
    res = validator("ca/auth-2023.cer", "crl/auth-2023.crl").validate(cert("ee/r1-auth.cer"), at)
    assert [p.code for p in check_profile(list(res.path), at, expected_usage="sign")] == [
        "wrong-usage"]


def test_sign_certificate_used_as_auth_rejected_by_the_validator(at) -> None:
    # the policy names the usage: a sign certificate is refused where auth is required,
    # and the reverse, although each path is otherwise valid
    res = validator("ca/sign-2023.cer", "crl/sign-2023.crl", jpki_usage="auth").validate(
        cert("ee/r1-sign.cer"), at)
    assert not res.valid and res.reason == "jpki-profile-violation"
    assert "wrong-usage" in res.message
    with pytest.raises(ValidationError):
        res.raise_for_status()
    res = validator("ca/auth-2023.cer", "crl/auth-2023.crl", jpki_usage="sign").validate(
        cert("ee/r1-auth.cer"), at)
    assert not res.valid and "wrong-usage" in res.message
    for kind in ("sign", "auth"):
        res = validator(f"ca/{kind}-2023.cer", f"crl/{kind}-2023.crl",
                        jpki_usage=kind).validate(cert(f"ee/r1-{kind}.cer"), at)
        assert res.valid, res.message


def test_jpki_usage_values_are_checked() -> None:
    anchor = cert("ca/sign-2023.cer")
    with pytest.raises(UsageError):
        ValidationPolicy.jpki([anchor], allow_test_anchors=True, jpki_usage="signature")
    with pytest.raises(UsageError):  # never silently ignored
        ValidationPolicy.permissive([anchor], jpki_usage="sign")


def test_sign_certificate_under_the_auth_root_fails(at) -> None:
    res = validator("ca/auth-2023.cer", "crl/auth-2023.crl").validate(cert("ee/r1-sign.cer"), at)
    assert not res.valid


def test_crl_past_next_update(at) -> None:
    res = validator("ca/sign-2023.cer", "crl/sign-2023-stale.crl").validate(
        cert("ee/r1-sign.cer"), at)
    assert not res.valid and res.reason == "crl-stale-nextUpdate-passed"
    assert res.indeterminate
    with pytest.raises(IndeterminateError):
        res.raise_for_status()
    # a stale CRL that does not list a revoked cert must not make it pass either
    res = validator("ca/sign-2023.cer", "crl/sign-2023-stale.crl").validate(
        cert("ee/r2-sign.cer"), at)
    assert not res.valid


def test_crl_signed_by_the_wrong_key(at) -> None:
    res = validator("ca/auth-2023.cer", "crl/auth-2023-wrongkey.crl").validate(
        cert("ee/r1-auth.cer"), at)
    assert not res.valid and res.indeterminate
    # the forged CRL is ignored when the genuine one is present
    res = validator("ca/auth-2023.cer", "crl/auth-2023-wrongkey.crl",
                    "crl/auth-2023.crl").validate(cert("ee/r1-auth.cer"), at)
    assert res.valid, res.message


def test_juki_era_rsa1024_sign_certificate(at) -> None:
    leaf = cert("ee/juki1-sign.cer")
    assert leaf.key_bits == 1024 and certificate_kind(leaf) == "sign"
    res = validator("ca/sign-2019.cer", "crl/sign-2019.crl").validate(leaf, at)
    assert not res.valid and res.reason in ("key-too-small", "jpki-profile-violation")
    path = [cert("ca/sign-2019.cer"), leaf]
    assert [p.code for p in check_profile(path, at)] == ["weak-key"]  # type: ignore[attr-defined]
    assert check_profile(path, at, min_rsa_bits=1024) == []


@pytest.mark.parametrize("rel", ["ee/r1-auth.cer", "ee/r1-sign.cer", "ee/r2-auth.cer",
                                 "ee/r2-sign.cer", "ee/operator-auth.cer",
                                 "ee/operator-sign.cer"])
def test_every_generated_end_entity_fits_the_profile(manifest, rel: str) -> None:
    entry = next(f for f in manifest["files"] if f["path"] == rel)
    leaf = cert(rel)
    anchor = cert(entry["issuer_cert"])
    kind = entry["role"].split("-")[0]
    assert certificate_kind(leaf) == kind
    assert ca_generation(anchor) == entry["generation"]
    assert check_profile([anchor, leaf], None, expected_usage=kind) == []


# --------------------------------------------------------------------------- SAN decoder
def test_subject_info_matches_the_manifest(manifest) -> None:
    residents = {r["id"]: r for r in manifest["residents"]}
    checked = 0
    for f in manifest["files"]:
        if f.get("role") != "sign-ee":
            continue
        res = residents[f["resident"]]
        if "name" not in res:  # the 住基カード resident's data is not in the manifest
            continue
        info = JpkiSubjectInfo.parse(cert(f["path"]))
        assert info.name == res["name"]
        assert info.address == res["address"]
        assert info.birth_date == dt.date.fromisoformat(res["birth"])
        assert info.sex == str(res["sex"])
        assert info.birth_era in ("showa", "heisei", "reiwa", "taisho", "meiji")
        assert res["name"] not in repr(info)
        checked += 1
    assert checked >= 3


def test_auth_certificates_carry_no_personal_data(manifest) -> None:
    for f in manifest["files"]:
        if f.get("role") == "auth-ee":
            assert JpkiSubjectInfo.parse(cert(f["path"])).empty


# --------------------------------------------------------------------------- signatures
def _key(rel: str):
    return serialization.load_pem_private_key((PKI / rel).read_bytes(), password=None)


def test_card_style_signature_with_resident_key(manifest) -> None:
    r1 = next(r for r in manifest["residents"] if r["id"] == "r1")
    key = _key(r1["keys"]["sign"])
    leaf = cert(r1["certs"]["sign"]).to_cryptography()
    msg = b"e-Tax test document"
    digest = hashlib.sha256(msg).digest()
    # what the card does with a DigestInfo: PKCS#1 v1.5 over it (Prehashed = same bytes)
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    sig = key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    assert verify_pkcs1v15(sig, certificate=leaf, message=msg, min_key_size=2048).key_size == 2048
    assert verify_pkcs1v15(sig, certificate=leaf, digest=digest).mode == "digest"
    assert len(build_digest_info("sha256", digest)) == 51


def test_cms_with_resident_key_validated_end_to_end(manifest, at) -> None:
    for rid, expect_valid in (("r1", True), ("r2", False)):
        r = next(x for x in manifest["residents"] if x["id"] == rid)
        key = _key(r["keys"]["sign"])
        leaf = cert(r["certs"]["sign"]).to_cryptography()
        data = f"document signed by {rid}".encode()
        cms = (pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(leaf, key, hashes.SHA256())
               .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary,
                                                  pkcs7.PKCS7Options.DetachedSignature]))
        v = validator("ca/sign-2023.cer", "crl/sign-2023.crl")
        if expect_valid:
            res = verify_cms(cms, detached_content=data, validator=v, at=at, min_key_size=2048)
            assert res.validations[0].valid
        else:
            with pytest.raises(RevokedError):
                verify_cms(cms, detached_content=data, validator=v, at=at)
