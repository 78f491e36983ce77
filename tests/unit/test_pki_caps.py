"""Caps on hostile certificates and CRLs (issue 9): parser size/count/nesting caps with typed
``malformed-*`` errors, and the name-constraint comparison budget (``name-constraints-limit``).

Each cap is shown at its limit (accepted) and one past it (refused), so the test proves the
cap is what refuses.  On the code before issue 9 every "refused" case here parsed (or, for
the name constraints, ran all its comparisons: 2 s for the 8-CA case) and these tests fail.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import pytest
from asn1crypto import core
from asn1crypto import x509 as _x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from jukicard.pki import (
    Certificate,
    Crl,
    MalformedCertificateError,
    MalformedCrlError,
    Reason,
    RevocationRule,
    ValidationPolicy,
    Validator,
)
from jukicard.pki import crl as crl_module
from jukicard.pki import nameconstraints as nc_module
from jukicard.pki.der import (
    MAX_CERTIFICATE_SIZE,
    MAX_EXTENSIONS,
    MAX_GENERAL_NAMES,
    MAX_NAME_ATTRIBUTES,
    MAX_NESTING,
)
from jukicard.pki.nameconstraints import NameCheckBudget, NameConstraintsState
from jukicard.pki.policy import Conformance, PathBudget
from jukicard.testing.hostile import AT, NameConstraintChain

#: The hostile generators leave out the AKI (an attacker would: it is what lets a builder skip
#: look-alike issuers), which the strict profile rejects once a path is built.  These cases
#: measure path building itself, so they run LENIENT; ``test_hostile_pools_stay_bounded_
#: under_strict`` in tests/unit/test_pki_bounded.py decides the same pools under STRICT.
LENIENT = Conformance.LENIENT

NB = _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
NA = _dt.datetime(2030, 1, 1, tzinfo=_dt.UTC)
KEY = ec.generate_private_key(ec.SECP256R1())  # one key: these tests are not about signatures


def _name(cn: str, extra: int = 0) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"u{i}") for i in range(extra)]
    return x509.Name(attrs)


def _cert(subject: x509.Name, issuer: x509.Name | None = None, *, ca: bool = False,
          extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
          basic: bool = True) -> x509.Certificate:
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
         .public_key(KEY.public_key()).serial_number(7)
         .not_valid_before(NB).not_valid_after(NA))
    if basic:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    return b.sign(KEY, hashes.SHA256())


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _unknown(i: int, size: int = 1) -> x509.UnrecognizedExtension:
    value = b"\x04" + (b"\x82" + size.to_bytes(2, "big") if size > 127 else bytes([size]))
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(f"1.3.6.1.4.1.55555.{i}"),
                                      value + b"\x00" * size)


# ------------------------------------------------------------------ certificate caps
def test_certificate_size_cap() -> None:
    at_limit = _der(_cert(_name("big"), extensions=[(_unknown(1, 60_000), False)]))
    assert len(at_limit) <= MAX_CERTIFICATE_SIZE
    Certificate.parse(at_limit)
    over = _der(_cert(_name("big"), extensions=[(_unknown(1, 65_500), False)]))
    with pytest.raises(MalformedCertificateError, match="above the 65536-byte limit") as err:
        Certificate.parse(over)
    assert err.value.reason == Reason.MALFORMED


def test_extension_count_cap() -> None:
    ok = [(_unknown(i), False) for i in range(MAX_EXTENSIONS)]
    Certificate.parse(_der(_cert(_name("exts"), extensions=ok, basic=False)))
    over = [(_unknown(i), False) for i in range(MAX_EXTENSIONS + 1)]
    with pytest.raises(MalformedCertificateError, match="65 extensions"):
        Certificate.parse(_der(_cert(_name("exts"), extensions=over, basic=False)))


def _san(count: int) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([x509.DNSName(f"h{i}.example") for i in range(count)])


def test_subject_alt_name_entries_cap() -> None:
    Certificate.parse(_der(_cert(_name("san"), extensions=[(_san(MAX_GENERAL_NAMES), False)])))
    with pytest.raises(MalformedCertificateError, match="1025 entries in the subject_alt_name"):
        Certificate.parse(_der(_cert(_name("san"),
                                     extensions=[(_san(MAX_GENERAL_NAMES + 1), False)])))


def _nc(permitted: int, excluded: int = 0) -> x509.NameConstraints:
    return x509.NameConstraints(
        [x509.DNSName(f"p{i}.example") for i in range(permitted)] or None,
        [x509.DNSName(f"x{i}.example") for i in range(excluded)] or None)


def test_name_constraints_subtrees_cap() -> None:
    half = MAX_GENERAL_NAMES // 2
    Certificate.parse(_der(_cert(_name("nc"), ca=True, extensions=[(_nc(half, half), True)])))
    with pytest.raises(MalformedCertificateError, match="1025 nameConstraints subtrees"):
        Certificate.parse(_der(_cert(_name("nc"), ca=True,
                                     extensions=[(_nc(half, half + 1), True)])))


def test_name_attribute_caps() -> None:
    Certificate.parse(_der(_cert(_name("dn", MAX_NAME_ATTRIBUTES - 1))))
    with pytest.raises(MalformedCertificateError, match="65 attributes in a subject name"):
        Certificate.parse(_der(_cert(_name("dn", MAX_NAME_ATTRIBUTES))))
    with pytest.raises(MalformedCertificateError, match="attributes in a issuer name"):
        Certificate.parse(_der(_cert(_name("dn"), _name("issuer", MAX_NAME_ATTRIBUTES))))
    deep_dir = x509.SubjectAlternativeName([x509.DirectoryName(_name("d", MAX_NAME_ATTRIBUTES))])
    with pytest.raises(MalformedCertificateError, match="directoryName of the subject_alt"):
        Certificate.parse(_der(_cert(_name("dn"), extensions=[(deep_dir, False)])))


def _nested(levels: int) -> bytes:
    value = b"\x05\x00"
    for _ in range(levels):
        n = len(value)
        length = bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else \
            b"\x82" + n.to_bytes(2, "big")
        value = b"\x30" + length + value
    return value


def _with_nested_qualifier(levels: int) -> bytes:
    """A certificate whose policy qualifier (an ANY) is ``levels`` SEQUENCEs deep (signature
    left stale: parsing does not check it)."""
    asn1 = _x509.Certificate.load(_der(_cert(_name("nest"))))
    tbs = asn1["tbs_certificate"].copy()
    policies = _x509.CertificatePolicies([{
        "policy_identifier": "1.2.3",
        "policy_qualifiers": [{"policy_qualifier_id": "1.2.3.4",
                               "qualifier": core.Any.load(_nested(levels))}]}])
    tbs["extensions"] = [*tbs["extensions"], {"extn_id": "certificate_policies",
                                              "critical": False, "extn_value": policies}]
    return _x509.Certificate({"tbs_certificate": tbs,
                              "signature_algorithm": asn1["signature_algorithm"],
                              "signature_value": asn1["signature_value"]}).dump(force=True)


def test_nesting_cap() -> None:
    """The qualifier starts at level 11: 21 nested SEQUENCEs (and their NULL) fit in 32
    levels, 22 do not.  Before issue 9, 22 parsed and 3,000 ended in asn1crypto's
    RecursionError."""
    Certificate.parse(_with_nested_qualifier(21))
    for levels in (22, 3000):
        with pytest.raises(MalformedCertificateError,
                           match=f"nested more than {MAX_NESTING} levels"):
            Certificate.parse(_with_nested_qualifier(levels))


def test_opaque_octet_string_that_looks_like_der_is_not_nesting() -> None:
    """A key identifier starting with 0x30 is opaque bytes, not an error (tentative walk)."""
    ski = x509.SubjectKeyIdentifier(b"\x30\x30\x30\x30\xff\x01" + b"\x00" * 14)
    Certificate.parse(_der(_cert(_name("ski"), extensions=[(ski, False)])))


def test_validator_reports_a_capped_certificate() -> None:
    """Bytes over a cap are a result (malformed-certificate), never an exception."""
    over = _der(_cert(_name("exts"), extensions=[(_unknown(i), False) for i in range(70)],
                      basic=False))
    root = Certificate.parse(_der(_cert(_name("root"), ca=True)))
    v = Validator(ValidationPolicy.permissive([root], revocation=RevocationRule.NONE))
    res = v.validate(over, AT)
    assert res.reason == Reason.MALFORMED and "70 extensions" in res.message


# ------------------------------------------------------------------ CRL caps
def _crl(issuer: x509.Name, extensions: int = 0) -> bytes:
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer)
         .last_update(NB).next_update(NA))
    for i in range(extensions):
        b = b.add_extension(_unknown(i), critical=False)
    return b.sign(KEY, hashes.SHA256()).public_bytes(Encoding.DER)


def test_crl_extension_and_issuer_caps() -> None:
    Crl.parse(_crl(_name("crl"), MAX_EXTENSIONS))
    with pytest.raises(MalformedCrlError, match="65 CRL extensions") as err:
        Crl.parse(_crl(_name("crl"), MAX_EXTENSIONS + 1))
    assert err.value.reason == Reason.MALFORMED_CRL
    with pytest.raises(MalformedCrlError, match="attributes in a CRL issuer name"):
        Crl.parse(_crl(_name("crl", MAX_NAME_ATTRIBUTES)))


def test_crl_size_cap_with_a_lowered_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 512 MiB cap, lowered for the test (a real 512 MiB CRL is too slow to build)."""
    der = _crl(_name("crl"))
    monkeypatch.setattr(crl_module, "MAX_CRL_SIZE", len(der))
    Crl.parse(der)
    monkeypatch.setattr(crl_module, "MAX_CRL_SIZE", len(der) - 1)
    with pytest.raises(MalformedCrlError, match="above the"):
        Crl.parse(der)


# ------------------------------------------------------------------ name-constraint budget
def _validate_chain(subtrees: Sequence[int], sans: int, *, excluded: bool = False,
                    **policy: Any) -> Any:
    chain = NameConstraintChain.build(subtrees, sans, excluded=excluded)
    v = Validator(ValidationPolicy.permissive([chain.root], revocation=RevocationRule.NONE,
                                              **{"conformance": LENIENT, **policy}),
                  intermediates=chain.cas)
    return v.validate(chain.ee, AT)


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the name × subtree comparisons actually made."""
    count = [0]
    real = nc_module._matches

    def counted(*args: Any) -> bool:
        count[0] += 1
        return real(*args)

    monkeypatch.setattr(nc_module, "_matches", counted)
    return count


def test_thousands_of_names_against_thousands_of_subtrees(comparisons: list[int]) -> None:
    """1,000 SANs against the 8,000 excluded subtrees of 8 CAs: refused before any
    comparison (before issue 9: 8 million comparisons, 2 s for one path)."""
    res = _validate_chain([1000] * 8, 1000, excluded=True)
    assert res.reason == Reason.NC_LIMIT
    assert "needs more than 262144 comparisons" in res.message
    assert comparisons[0] == 0


def test_hostile_intersection_of_two_constrained_cas(comparisons: list[int]) -> None:
    """Two CAs of 1,000 permitted subtrees each: the §6.1.4 (g) intersection alone is over
    budget, and the end entity's check reports it."""
    res = _validate_chain([1000, 1000], 1)
    assert res.reason == Reason.NC_LIMIT
    assert "name constraints above" in res.message
    assert comparisons[0] == 0


def test_moderate_name_constraints_are_checked(comparisons: list[int]) -> None:
    assert _validate_chain([100, 100], 100, excluded=True).valid
    assert comparisons[0] == 200 * 100
    small = PathBudget(max_name_constraint_checks=10_000)
    assert _validate_chain([100, 100], 100, excluded=True, budget=small).reason == \
        Reason.NC_LIMIT


def test_name_check_budget_counts() -> None:
    budget = NameCheckBudget(10)
    assert budget.charge(6) and budget.charge(4)
    assert not budget.charge(1) and budget.spent == 10
    assert NameCheckBudget().limit == PathBudget().max_name_constraint_checks
    state = NameConstraintsState()
    assert state.budget.limit == 1 << 18 and not state.over_budget
