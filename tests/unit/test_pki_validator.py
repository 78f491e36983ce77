"""Validator API and §6.1 checks on synthetic hierarchies (jukicard.pki.validate)."""

from __future__ import annotations

import ast
import datetime as _dt
import enum
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from test_pki_factory import AT, NB, Pki, dn, ec_key, make_cert, make_crl, rsa_key

from jukicard.errors import ExpiredError, UsageError, ValidationError
from jukicard.pki import (
    INDETERMINATE_REASONS,
    CrlRevocationSource,
    MalformedCertificateError,
    Reason,
    UnsupportedAlgorithmError,
    ValidationPolicy,
    ValidationResult,
    Validator,
)
from jukicard.pki import validate as validate_module
from jukicard.pki.jpki import ProfileProblem

POLICY_OID = "1.2.392.200149.8.5.1.3.30"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki("val")


def _validator(pki: Pki, intermediates: list | None = None, extra_crls: list | None = None,
               **kw: Any) -> Validator:
    anchors = kw.pop("anchors", (pki.root,))
    crls = [pki.root_crl(), pki.ca_crl()] + (extra_crls or [])
    return Validator(ValidationPolicy(anchors, **kw),
                     intermediates=[pki.ca] if intermediates is None else intermediates,
                     revocation=CrlRevocationSource(crls))


def test_valid_path_anchor_to_leaf(pki: Pki) -> None:
    ee = pki.ee(1)
    res = _validator(pki).validate(ee, AT)
    assert res.valid and res.reason == "ok"
    assert res.path == (pki.root, pki.ca, ee)
    assert res.at == AT
    assert _validator(pki).check(ee, AT) == res


def test_policies_reported(pki: Pki) -> None:
    ca = make_cert(dn("val Policy CA"), pki.ca_key, pki.root, pki.root_key, ca=True, serial=40,
                   policies=["2.5.29.32.0"])
    ee = make_cert(dn("EE p"), pki.ee_key, ca, pki.ca_key, serial=41, policies=[POLICY_OID])
    v = _validator(pki, [ca], [make_crl(ca, pki.ca_key)])
    assert v.validate(ee, AT).policies == frozenset({POLICY_OID})
    v2 = _validator(pki, [ca], [make_crl(ca, pki.ca_key)], initial_explicit_policy=True,
                    user_initial_policy_set={"1.2.3.4"})
    assert v2.validate(ee, AT).reason == "no-acceptable-explicit-policy"


def test_bytes_input_and_malformed_input(pki: Pki) -> None:
    v = _validator(pki)
    assert v.validate(pki.ee(2).der, AT).valid
    res = v.validate(b"\x30\x03\x02\x01\x01", AT)
    assert not res.valid and res.reason == "malformed-certificate"
    with pytest.raises(MalformedCertificateError):
        res.raise_for_status()
    with pytest.raises(ValidationError):
        v.check(b"garbage", AT)


def test_validation_time_must_be_explicit_and_aware(pki: Pki) -> None:
    with pytest.raises(UsageError):
        _validator(pki).validate(pki.ee(3), _dt.datetime(2024, 6, 1))
    with pytest.raises(UsageError):
        _validator(pki).validate(pki.ee(3), None)  # type: ignore[arg-type]


@pytest.mark.parametrize("at", [_dt.datetime.max, _dt.datetime.min], ids=["max", "min"])
def test_validation_time_at_the_ends_of_the_range(pki: Pki, at: _dt.datetime) -> None:
    """Review of issue 8: ``validate(ee, datetime.max)`` with a clock skew raised
    ``OverflowError`` (``at + skew``).  Now a typed error; without a skew the extremes are
    ordinary times."""
    aware = at.replace(tzinfo=_dt.UTC)
    skewed = _validator(pki, clock_skew=_dt.timedelta(minutes=5))
    with pytest.raises(UsageError, match="clock skew"):
        skewed.validate(pki.ee(3), aware)
    with pytest.raises(UsageError, match="clock skew"):
        skewed.validate_path([pki.root, pki.ca, pki.ee(3)], aware)
    expected = "certificate-expired" if at == _dt.datetime.max else "certificate-not-yet-valid"
    assert _validator(pki).validate(pki.ee(3), aware).reason == expected


def test_validate_many_is_validate_of_each(pki: Pki) -> None:
    v = _validator(pki, extra_crls=[make_crl(pki.ca, pki.ca_key, [(6, NB, None)], number=2)])
    items = [pki.ee(5), b"junk", pki.ee(6)]
    many = v.validate_many(items, AT)
    assert [r.reason for r in many] == ["ok", "malformed-certificate", "revoked"]
    assert [v.validate(i, AT).reason for i in items] == [r.reason for r in many]


def test_expired_and_not_yet_valid_with_skew(pki: Pki) -> None:
    ee = make_cert(dn("EE old"), pki.ee_key, pki.ca, pki.ca_key, serial=7,
                   not_after=AT - _dt.timedelta(minutes=1))
    res = _validator(pki).validate(ee, AT)
    assert res.reason == "certificate-expired"
    with pytest.raises(ExpiredError):
        res.raise_for_status()
    assert _validator(pki, clock_skew=_dt.timedelta(minutes=2)).validate(ee, AT).valid
    young = make_cert(dn("EE new"), pki.ee_key, pki.ca, pki.ca_key, serial=8,
                      not_before=AT + _dt.timedelta(minutes=1))
    assert _validator(pki).validate(young, AT).reason == "certificate-not-yet-valid"


def test_several_root_generations_trusted_at_once(pki: Pki) -> None:
    name = dn("val Gen Root")
    old_key, new_key = rsa_key("gen-old"), rsa_key("gen-new")
    old = make_cert(name, old_key, ca=True, serial=1)
    new = make_cert(name, new_key, ca=True, serial=2)
    ee_old = make_cert(dn("EE g1"), pki.ee_key, old, old_key, serial=50)
    ee_new = make_cert(dn("EE g2"), pki.ee_key, new, new_key, serial=51)
    crls = [make_crl(old, old_key), make_crl(new, new_key, number=2)]
    v = Validator(ValidationPolicy((old, new)), [], CrlRevocationSource(crls))
    r_old, r_new = v.validate_many([ee_old, ee_new], AT)
    assert r_old.valid and r_old.path[0] == old, r_old.message
    assert r_new.valid and r_new.path[0] == new, r_new.message


def test_key_rollover_link_certificate(pki: Pki) -> None:
    name = dn("val Link Root")
    old_key, new_key = rsa_key("link-old"), rsa_key("link-new")
    old = make_cert(name, old_key, ca=True, serial=1)
    new_with_old = make_cert(name, new_key, old, old_key, ca=True, serial=3)  # link cert
    ee = make_cert(dn("EE link"), pki.ee_key, new_with_old, new_key, serial=60)
    crls = [make_crl(old, old_key), make_crl(new_with_old, new_key, number=2)]
    v = Validator(ValidationPolicy((old,)), [new_with_old], CrlRevocationSource(crls))
    res = v.validate(ee, AT)
    assert res.valid, res.message
    assert res.path == (old, new_with_old, ee)


def test_no_path_and_no_anchors(pki: Pki) -> None:
    stranger_key = rsa_key("stranger")
    stranger = make_cert(dn("val Stranger CA"), stranger_key, ca=True)
    ee = make_cert(dn("EE s"), pki.ee_key, stranger, stranger_key, serial=9)
    assert _validator(pki).validate(ee, AT).reason == "no-valid-issuer-or-name-chaining"
    assert _validator(pki, anchors=()).validate(ee, AT).reason == "no-trust-anchors"


def test_issuer_not_a_ca_and_key_usage(pki: Pki) -> None:
    not_ca = make_cert(dn("val NotCA"), pki.ca_key, pki.root, pki.root_key, serial=70,
                       key_usage={"key_cert_sign": True, "crl_sign": True})
    ee = make_cert(dn("EE n"), pki.ee_key, not_ca, pki.ca_key, serial=71)
    v = _validator(pki, [not_ca], [make_crl(not_ca, pki.ca_key)])
    assert v.validate(ee, AT).reason == "issuer-not-a-ca"
    no_kcs = make_cert(dn("val NoKCS"), pki.ca_key, pki.root, pki.root_key, ca=True,
                       serial=72, key_usage={"key_cert_sign": False})
    ee2 = make_cert(dn("EE k"), pki.ee_key, no_kcs, pki.ca_key, serial=73)
    v2 = _validator(pki, [no_kcs], [make_crl(no_kcs, pki.ca_key)])
    assert v2.validate(ee2, AT).reason == "no-valid-issuer-or-name-chaining"


def test_path_length_constraint(pki: Pki) -> None:
    ca0 = make_cert(dn("val PL0"), pki.ca_key, pki.root, pki.root_key, ca=True, path_len=0,
                    serial=80)
    sub_key = rsa_key("pl-sub")
    sub = make_cert(dn("val PL0 sub"), sub_key, ca0, pki.ca_key, ca=True, serial=81)
    ee = make_cert(dn("EE pl"), pki.ee_key, sub, sub_key, serial=82)
    v = _validator(pki, [ca0, sub], [make_crl(ca0, pki.ca_key), make_crl(sub, sub_key)])
    assert v.validate(ee, AT).reason == "path-length-exceeded"
    v2 = _validator(pki, [ca0, sub], [make_crl(ca0, pki.ca_key), make_crl(sub, sub_key)],
                    max_path_length=1)
    assert not v2.validate(ee, AT).valid


def test_unknown_critical_extension(pki: Pki) -> None:
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.7"), b"\x05\x00")
    ee = make_cert(dn("EE u"), pki.ee_key, pki.ca, pki.ca_key, serial=90,
                   extra_extensions=[(ext, True)])
    assert _validator(pki).validate(ee, AT).reason == "unknown-critical-certificate-extension"
    ok = make_cert(dn("EE u2"), pki.ee_key, pki.ca, pki.ca_key, serial=91,
                   extra_extensions=[(ext, False)])
    assert _validator(pki).validate(ok, AT).valid


def test_algorithm_policy(pki: Pki) -> None:
    weak_ee = make_cert(dn("EE sha224"), pki.ee_key, pki.ca, pki.ca_key, serial=95,
                        hash_alg=hashes.SHA224())
    res = _validator(pki).validate(weak_ee, AT)  # JPKI: SHA-256 or stronger
    assert res.reason == "unsupported-algorithm"
    with pytest.raises(UnsupportedAlgorithmError):
        res.raise_for_status()
    small = make_cert(dn("EE small"), rsa_key("small", 1024), pki.ca, pki.ca_key, serial=96)
    assert _validator(pki).validate(small, AT).reason == "key-too-small"
    assert _validator(pki, min_rsa_key_size=1024).validate(small, AT).valid
    ec_ca = make_cert(dn("val EC CA"), ec_key("ecca"), pki.root, pki.root_key, ca=True,
                      serial=97)
    ee = make_cert(dn("EE ec"), pki.ee_key, ec_ca, ec_key("ecca"), serial=98)
    crls = [make_crl(ec_ca, ec_key("ecca"))]
    assert _validator(pki, [ec_ca], crls).validate(ee, AT).reason == "unsupported-algorithm"
    perm = Validator(ValidationPolicy.permissive((pki.root,)), [ec_ca],
                     CrlRevocationSource([pki.root_crl(), *crls]))
    assert perm.validate(ee, AT).valid


def test_name_constraints(pki: Pki) -> None:
    nc = x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.jp")],
                              excluded_subtrees=[x509.DNSName("bad.example.jp")])
    ca = make_cert(dn("val NC CA"), pki.ca_key, pki.root, pki.root_key, ca=True, serial=100,
                   extra_extensions=[(nc, True)])
    crls = [make_crl(ca, pki.ca_key)]

    def ee(host: str, serial: int) -> Any:
        san = x509.SubjectAlternativeName([x509.DNSName(host)])
        return make_cert(dn("EE nc"), pki.ee_key, ca, pki.ca_key, serial=serial,
                         extra_extensions=[(san, False)])

    v = _validator(pki, [ca], crls)
    assert v.validate(ee("www.example.jp", 101), AT).valid
    assert v.validate(ee("evil.com", 102), AT).reason == "name-constraints-permitted-violation"
    assert v.validate(ee("x.bad.example.jp", 103), AT).reason == \
        "name-constraints-excluded-violation"


def test_jpki_profile_checker_gets_path_time_and_usage_fake_checker(
        pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """The validator hands the built path, the time and the policy's usage to
    ``check_profile`` (here a fake standing in for it) and joins its problems."""
    seen: list[Any] = []
    problems: list[ProfileProblem] = []

    def fake_check_profile(path: list, at: _dt.datetime, expected_usage: str | None = None
                           ) -> list[ProfileProblem]:
        seen.append((tuple(path), at, expected_usage))
        return problems

    monkeypatch.setattr(validate_module, "check_profile", fake_check_profile)
    ee = pki.ee(110)
    assert _validator(pki, jpki_profile=True).validate(ee, AT).valid
    assert _validator(pki, jpki_profile=True, jpki_usage="auth").validate(ee, AT).valid
    assert seen == [((pki.root, pki.ca, ee), AT, None), ((pki.root, pki.ca, ee), AT, "auth")]
    problems.extend([ProfileProblem("missing-policy", "auth policy OID missing", 2),
                     ProfileProblem("weak-key", "end-entity RSA key too small", 2)])
    res = _validator(pki, jpki_profile=True).validate(ee, AT)
    assert res.reason == "jpki-profile-violation"
    assert res.message == ("missing-policy: auth policy OID missing; "
                           "weak-key: end-entity RSA key too small")
    seen.clear()
    assert _validator(pki).validate(ee, AT).valid  # profile off: checker not consulted
    assert seen == []


def test_jpki_profile_rejects_a_non_jpki_path(pki: Pki) -> None:
    """The real checker (imported, not looked up at run time) refuses a generic path."""
    res = _validator(pki, jpki_profile=True).validate(pki.ee(111), AT)
    assert not res.valid and res.reason == "jpki-profile-violation"
    assert res.message.startswith("not-jpki: ")


def test_pki_layering_imports_only_errors() -> None:
    root = Path(__file__).resolve().parents[2] / "jukicard" / "pki"
    offenders = []
    for py in root.glob("*.py"):
        tree = ast.parse(py.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            for m in mods:
                # jukicard.deprecations sits at the level of errors (test_layering.py)
                if m.startswith("jukicard") and not (
                        m in ("jukicard.errors", "jukicard.deprecations")
                        or m.startswith("jukicard.pki")):
                    offenders.append(f"{py.name}: {m}")
                if m.split(".")[0] == "smartcard":
                    offenders.append(f"{py.name}: {m}")
    assert offenders == []


def test_reason_is_a_str_enum_in_results_and_errors(pki: Pki) -> None:
    """Issue 8: ``Reason`` is a ``StrEnum``; results and the errors they raise carry members
    that still equal, print and serialise as the old strings (fails on the old code, where
    ``Reason`` was a class of plain ``str`` constants)."""
    assert issubclass(Reason, enum.StrEnum)
    assert all(isinstance(r, Reason) for r in INDETERMINATE_REASONS)
    ee = pki.ee(120)
    ok = _validator(pki).validate(ee, AT)
    assert ok.reason is Reason.OK and ok.reason == "ok"
    res = Validator(ValidationPolicy((pki.root,)), intermediates=[pki.ca]).validate(ee, AT)
    assert res.reason is Reason.UNDETERMINED and res.indeterminate
    assert json.dumps({"reason": res.reason}) == '{"reason": "revocation-status-undetermined"}'
    with pytest.raises(ValidationError) as info:
        res.raise_for_status()
    assert info.value.reason is Reason.UNDETERMINED
    bad = _validator(pki).validate(b"not a certificate", AT)
    assert bad.reason is Reason.MALFORMED
    with pytest.raises(MalformedCertificateError) as malformed:
        bad.raise_for_status()
    assert malformed.value.reason is Reason.MALFORMED
    # a string is turned into its member; an unknown code is the caller's mistake
    assert ValidationResult(False, "revoked").reason is Reason.REVOKED
    with pytest.raises(UsageError):
        ValidationResult(False, "no-such-reason")
