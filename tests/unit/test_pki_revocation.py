"""CRL revocation answers (jukicard.pki.revocation) on a synthetic hierarchy."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pytest
from cryptography import x509
from test_pki_factory import AT, NB, UTC, Pki, dn, make_cert, make_crl, rsa_key

from jukicard.errors import IndeterminateError, RevokedError
from jukicard.pki import (
    CrlRevocationSource,
    RevocationRule,
    RevocationState,
    ValidationPolicy,
    Validator,
)

REVOKED_AT = _dt.datetime(2024, 2, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki("rev")


def _validate(pki: Pki, ee: Any, crls: list, *, intermediates: list | None = None,
              **policy_kw: Any):
    policy = ValidationPolicy((pki.root,), **policy_kw)
    v = Validator(policy, intermediates=intermediates or [pki.ca],
                  revocation=CrlRevocationSource(crls))
    return v.validate(ee, AT)


def test_good_when_every_certificate_has_a_fresh_crl(pki: Pki) -> None:
    ee = pki.ee(100)
    res = _validate(pki, ee, [pki.root_crl(), pki.ca_crl([(999, NB, None)])])
    assert res.valid, res.message
    assert [r.status.state for r in res.revocation] == [RevocationState.GOOD] * 2
    assert "Sub CA" in (res.revocation[1].status.source or "")
    assert res.raise_for_status() is res


def test_revoked_end_entity_carries_date_and_reason(pki: Pki) -> None:
    ee = pki.ee(101)
    res = _validate(pki, ee, [pki.root_crl(), pki.ca_crl(
        [(101, REVOKED_AT, x509.ReasonFlags.key_compromise)])])
    assert not res.valid and res.reason == "revoked"
    st = res.revocation[-1].status
    assert st.state is RevocationState.REVOKED and st.revoked_at == REVOKED_AT
    with pytest.raises(RevokedError) as ei:
        res.raise_for_status()
    assert ei.value.revocation_reason == "keyCompromise"
    assert ei.value.revoked_at == REVOKED_AT


def test_revoked_ca(pki: Pki) -> None:
    res = _validate(pki, pki.ee(102), [pki.root_crl([(2, REVOKED_AT, None)]), pki.ca_crl()])
    assert res.reason == "revoked"
    assert res.revocation[0].status.state is RevocationState.REVOKED


def test_revocation_after_validation_time_is_good(pki: Pki) -> None:
    later = AT + _dt.timedelta(days=1)
    crl = pki.ca_crl([(103, later, None)], this_update=AT - _dt.timedelta(days=1))
    res = _validate(pki, pki.ee(103), [pki.root_crl(), crl])
    assert res.valid, res.message


def test_missing_crl_is_indeterminate_never_valid(pki: Pki) -> None:
    res = _validate(pki, pki.ee(104), [pki.root_crl()])
    assert not res.valid and res.reason == "revocation-status-undetermined"
    assert res.indeterminate
    with pytest.raises(IndeterminateError):
        res.raise_for_status()


def test_stale_crl_and_clock_skew(pki: Pki) -> None:
    stale = pki.ca_crl(next_update=AT - _dt.timedelta(minutes=3))
    res = _validate(pki, pki.ee(105), [pki.root_crl(), stale])
    assert res.reason == "crl-stale-nextUpdate-passed"
    res = _validate(pki, pki.ee(105), [pki.root_crl(), stale],
                    clock_skew=_dt.timedelta(minutes=5))
    assert res.valid, res.message


def test_crl_from_the_future_is_not_used(pki: Pki) -> None:
    future = pki.ca_crl(this_update=AT + _dt.timedelta(days=1),
                        next_update=AT + _dt.timedelta(days=30))
    res = _validate(pki, pki.ee(106), [pki.root_crl(), future])
    assert res.reason == "revocation-status-undetermined"


def test_bad_crl_signature(pki: Pki) -> None:
    forged = make_crl(pki.ca, rsa_key("rev-forger"))
    res = _validate(pki, pki.ee(107), [pki.root_crl(), forged])
    assert res.reason == "bad-crl-signature"


def test_unknown_critical_crl_extension(pki: Pki) -> None:
    crl = pki.ca_crl(extra_extensions=[(x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.99999.2"), b"\x05\x00"), True)])
    res = _validate(pki, pki.ee(108), [pki.root_crl(), crl])
    assert res.reason == "unknown-critical-crl-or-entry-extension"


def test_crl_issuer_without_crlsign(pki: Pki) -> None:
    ca = make_cert(dn("rev NoCRLSign CA"), pki.ca_key, pki.root, pki.root_key, ca=True,
                   serial=20, key_usage={"crl_sign": False})
    ee = make_cert(dn("EE 109"), pki.ee_key, ca, pki.ca_key, serial=109)
    crl = make_crl(ca, pki.ca_key)
    res = _validate(pki, ee, [pki.root_crl(), crl], intermediates=[ca])
    assert res.reason == "crl-issuer-lacks-cRLSign"


def test_scope_only_ca_certs_does_not_cover_end_entities(pki: Pki) -> None:
    idp = x509.IssuingDistributionPoint(None, None, False, True, None, False, False)
    res = _validate(pki, pki.ee(110), [pki.root_crl(), pki.ca_crl(idp=idp)])
    assert res.reason == "crl-scope-mismatch"
    idp_user = x509.IssuingDistributionPoint(None, None, True, False, None, False, False)
    assert _validate(pki, pki.ee(110), [pki.root_crl(), pki.ca_crl(idp=idp_user)]).valid


def test_only_some_reasons_must_cover_all_reasons(pki: Pki) -> None:
    R = x509.ReasonFlags
    part1 = frozenset({R.key_compromise, R.ca_compromise})
    part2 = frozenset({R.affiliation_changed, R.superseded, R.cessation_of_operation,
                       R.certificate_hold, R.privilege_withdrawn, R.aa_compromise})
    idp1 = x509.IssuingDistributionPoint(None, None, False, False, part1, False, False)
    idp2 = x509.IssuingDistributionPoint(None, None, False, False, part2, False, False)
    crl1 = pki.ca_crl(idp=idp1, number=1)
    crl2 = pki.ca_crl(idp=idp2, number=2)
    res = _validate(pki, pki.ee(111), [pki.root_crl(), crl1])
    assert res.reason == "revocation-status-undetermined"
    res = _validate(pki, pki.ee(111), [pki.root_crl(), crl1, crl2])
    assert res.valid, res.message
    crl2r = make_crl(pki.ca, pki.ca_key, [(111, REVOKED_AT, R.superseded)], idp=idp2, number=3)
    res = _validate(pki, pki.ee(111), [pki.root_crl(), crl1, crl2r])
    assert res.reason == "revoked"


def test_delta_crl_revokes_and_remove_from_crl_unrevokes(pki: Pki) -> None:
    R = x509.ReasonFlags
    base = pki.ca_crl([(113, REVOKED_AT, R.certificate_hold)], number=10)
    delta = pki.ca_crl([(112, REVOKED_AT, R.key_compromise),
                        (113, REVOKED_AT, R.remove_from_crl)], number=11, delta_base=10)
    assert _validate(pki, pki.ee(112), [pki.root_crl(), base]).valid
    assert _validate(pki, pki.ee(112), [pki.root_crl(), base, delta]).reason == "revoked"
    assert _validate(pki, pki.ee(113), [pki.root_crl(), base]).reason == "revoked"
    assert _validate(pki, pki.ee(113), [pki.root_crl(), base, delta]).valid
    # delta CRLs may be switched off by the policy
    assert _validate(pki, pki.ee(112), [pki.root_crl(), base, delta],
                     use_delta_crls=False).valid


def test_delta_alone_is_not_enough_and_stale_delta_fails(pki: Pki) -> None:
    delta = pki.ca_crl(number=11, delta_base=10)
    assert _validate(pki, pki.ee(114), [pki.root_crl(), delta]).reason == \
        "revocation-status-undetermined"
    base = pki.ca_crl(number=10)
    stale = pki.ca_crl(number=12, delta_base=10, next_update=AT - _dt.timedelta(days=1))
    assert _validate(pki, pki.ee(114), [pki.root_crl(), base, stale]).reason == \
        "crl-stale-nextUpdate-passed"


def test_separate_crl_signing_key(pki: Pki) -> None:
    signer_key = rsa_key("rev-crlsigner")
    signer = make_cert(pki.ca.to_cryptography().subject, signer_key, pki.root, pki.root_key,
                       serial=30, key_usage={"digital_signature": False, "crl_sign": True})
    crl = make_crl(pki.ca, signer_key)
    ok = _validate(pki, pki.ee(115), [pki.root_crl(), crl], intermediates=[pki.ca, signer])
    assert ok.valid, ok.message
    bad = _validate(pki, pki.ee(115), [pki.root_crl([(30, REVOKED_AT, None)]), crl],
                    intermediates=[pki.ca, signer])
    assert bad.reason == "crl-path-validation-error"
    # without the signer certificate the CRL cannot be verified
    assert not _validate(pki, pki.ee(115), [pki.root_crl(), crl]).valid


def test_revocation_none_and_missing_source(pki: Pki) -> None:
    ee = pki.ee(116)
    policy = ValidationPolicy((pki.root,), revocation=RevocationRule.NONE)
    res = Validator(policy, [pki.ca]).validate(ee, AT)
    assert res.valid and all(r.status is None for r in res.revocation)
    res = Validator(ValidationPolicy((pki.root,)), [pki.ca]).validate(ee, AT)
    assert res.reason == "revocation-status-undetermined"


def test_source_standalone_without_validator(pki: Pki) -> None:
    src = CrlRevocationSource([pki.ca_crl([(117, REVOKED_AT, None)])])
    assert src.status(pki.ee(117), pki.ca, AT).state is RevocationState.REVOKED
    assert src.status(pki.ee(118), pki.ca, AT).state is RevocationState.GOOD
    # only the given issuer may sign without a validator context
    assert src.status(pki.ee(118), pki.root, AT).state is RevocationState.UNKNOWN


class _Fetcher:
    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = data
        self.calls: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.calls.append(url)
        if url not in self.data:
            raise OSError("404")
        return self.data[url]


def test_fetcher_used_for_url_distribution_points(pki: Pki) -> None:
    url = "http://crl.example.jp/sub.crl"
    ee = make_cert(dn("EE 120"), pki.ee_key, pki.ca, pki.ca_key, serial=120, crl_dp_urls=[url])
    fetcher = _Fetcher({url: pki.ca_crl([(120, REVOKED_AT, None)]).der})
    src = CrlRevocationSource([pki.root_crl()], fetcher=fetcher)
    res = Validator(ValidationPolicy((pki.root,)), [pki.ca], src).validate(ee, AT)
    assert res.reason == "revoked" and fetcher.calls == [url]
    # a failing fetch leaves the status undetermined (fail closed), never valid
    src2 = CrlRevocationSource([pki.root_crl()], fetcher=_Fetcher({}))
    res2 = Validator(ValidationPolicy((pki.root,)), [pki.ca], src2).validate(ee, AT)
    assert res2.reason == "revocation-status-undetermined"


def test_dirname_distribution_point_mapped_to_file(pki: Pki, tmp_path) -> None:
    dp_name = dn("CRL Distribution Points", o="JPKI")
    ee = make_cert(dn("EE 121"), pki.ee_key, pki.ca, pki.ca_key, serial=121,
                   crl_dp_dirnames=[dp_name])
    idp = x509.IssuingDistributionPoint([x509.DirectoryName(dp_name)], None, False, False,
                                        None, False, False)
    path = tmp_path / "part.crl"
    path.write_bytes(pki.ca_crl(idp=idp).der)
    from asn1crypto import x509 as ax509
    src = CrlRevocationSource([pki.root_crl()],
                              dirname_map=[(ax509.Name.load(dp_name.public_bytes()), str(path))])
    res = Validator(ValidationPolicy((pki.root,)), [pki.ca], src).validate(ee, AT)
    assert res.valid, res.message
    # a cryptography x509.Name works as a mapping key too
    src_c = CrlRevocationSource([pki.root_crl()], dirname_map={dp_name: str(path)})
    assert Validator(ValidationPolicy((pki.root,)), [pki.ca], src_c).validate(ee, AT).valid
    # a CRL for another distribution point does not cover this certificate
    other = x509.IssuingDistributionPoint([x509.DirectoryName(dn("elsewhere", o="JPKI"))],
                                          None, False, False, None, False, False)
    src2 = CrlRevocationSource([pki.root_crl(), pki.ca_crl(idp=other)])
    res2 = Validator(ValidationPolicy((pki.root,)), [pki.ca], src2).validate(ee, AT)
    assert res2.reason == "crl-scope-mismatch"


def test_bulk_validation_shares_crl_work(pki: Pki) -> None:
    crl = pki.ca_crl([(s, REVOKED_AT, None) for s in range(200, 260, 2)])
    v = Validator(ValidationPolicy((pki.root,)), [pki.ca],
                  CrlRevocationSource([pki.root_crl(), crl]))
    certs = [pki.ee(s) for s in range(200, 220)]
    results = v.validate_many(certs, AT)
    assert [r.valid for r in results] == [s % 2 == 1 for s in range(200, 220)]
    assert [v.validate(c, AT).valid for c in certs] == [r.valid for r in results]
