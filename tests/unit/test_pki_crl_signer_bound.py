"""The CRL-signer search is bounded (issue 9 review): a pool of certificates that carry a
CRL issuer's name (the certificates of a hostile CMS join the pool) costs at most
``PathBudget.max_signature_checks`` signature verifications per CRL, the candidate list is
built in linear time, and a genuine CRL still decides the status."""

from __future__ import annotations

import datetime as _dt
import secrets
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from jukicard.pki import (
    CertificatePool,
    CrlRevocationSource,
    ValidationPolicy,
    Validator,
    load_certificate,
)
from jukicard.pki.policy import PathBudget
from jukicard.pki.reasons import Reason
from jukicard.pki.revocation import DEFAULT_CRL_SIGNER_CHECKS

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "pki"
AT = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)
ROOT = load_certificate((VECTORS / "ca" / "auth-2023.cer").read_bytes())
LEAF = (VECTORS / "ee" / "r1-auth.cer").read_bytes()
GENUINE = VECTORS / "crl" / "auth-2023.crl"
WRONG_KEY = VECTORS / "crl" / "auth-2023-wrongkey.crl"


def look_alikes(n: int) -> list[bytes]:
    """``n`` CA certificates named like the auth-2023 root, each with its own (random,
    never-usable) RSA modulus: every one is a candidate signer of that root's CRLs."""
    subject = x509.load_der_x509_certificate(ROOT.der).subject
    signer = ec.generate_private_key(ec.SECP256R1())
    start = _dt.datetime(2026, 1, 1)
    out = []
    for i in range(n):
        modulus = secrets.randbits(2048) | (1 << 2047) | 1
        key = rsa.RSAPublicNumbers(65537, modulus).public_key()
        cert = (x509.CertificateBuilder().subject_name(subject)
                .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME,
                                                           f"look-alike {i}")]))
                .public_key(key).serial_number(i + 1).not_valid_before(start)
                .not_valid_after(start + _dt.timedelta(days=900))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(signer, hashes.SHA256()))
        out.append(cert.public_bytes(Encoding.DER))
    return out


@pytest.fixture(scope="module")
def pool() -> CertificatePool:
    return CertificatePool(look_alikes(3 * DEFAULT_CRL_SIGNER_CHECKS))


def counting(source: CrlRevocationSource) -> list[int]:
    """Count the CRL signature verifications ``source`` performs."""
    calls = [0]
    verify = source._verify

    def wrapped(*args: Any) -> bool:
        calls[0] += 1
        return verify(*args)

    source._verify = wrapped  # type: ignore[method-assign]
    return calls


def test_a_crl_no_candidate_verifies_stops_at_the_budget(pool: CertificatePool) -> None:
    source = CrlRevocationSource([WRONG_KEY])
    calls = counting(source)
    result = Validator(ValidationPolicy((ROOT,)), intermediates=pool,
                       revocation=source).validate(LEAF, AT)
    assert not result.valid and result.reason == Reason.PATH_BUILDING_LIMIT
    assert "CRL signer search stopped" in result.message
    assert 0 < calls[0] <= DEFAULT_CRL_SIGNER_CHECKS + 1  # +1: the issuer's own key


def test_the_limit_follows_the_policy_budget(pool: CertificatePool) -> None:
    source = CrlRevocationSource([WRONG_KEY])
    calls = counting(source)
    policy = ValidationPolicy((ROOT,), budget=PathBudget(max_signature_checks=7))
    result = Validator(policy, intermediates=pool, revocation=source).validate(LEAF, AT)
    assert result.reason == Reason.PATH_BUILDING_LIMIT
    assert calls[0] <= 8


def test_a_genuine_crl_still_decides_beside_a_hostile_pool(pool: CertificatePool) -> None:
    source = CrlRevocationSource([GENUINE, WRONG_KEY])
    result = Validator(ValidationPolicy((ROOT,)), intermediates=pool,
                       revocation=source).validate(LEAF, AT)
    assert result.valid, result.message


def test_the_candidate_list_has_each_certificate_once(pool: CertificatePool) -> None:
    """The pool repeated ten times gives the same candidates (a set, not a list scan)."""
    from jukicard.pki.validate import _Context, _Session

    ders = [c.der for c in pool] * 10
    validator = Validator(ValidationPolicy((ROOT,)), intermediates=ders)
    ctx = _Context(validator, _Session(at=AT), (ROOT, load_certificate(LEAF)), {})
    cands = ctx.signer_candidates(ROOT.subject_key)
    assert len(cands) == len({c.der for c in cands}) == len(pool) + 1


def test_validate_many_validates_a_repeated_certificate_once(monkeypatch) -> None:
    """A CMS repeating one SignerInfo gives its certificate many times: one validation."""
    validator = Validator(ValidationPolicy((ROOT,)),
                          revocation=CrlRevocationSource([GENUINE]))
    calls = [0]
    real = validator._validate_input

    def counting(*args: Any) -> Any:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(validator, "_validate_input", counting)
    leaf = load_certificate(LEAF)
    results = validator.validate_many([leaf, LEAF, leaf], AT)
    assert [r.valid for r in results] == [True, True, True]
    assert calls[0] == 1
