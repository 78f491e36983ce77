"""The RFC 5280 §6.1 state object (jukicard.pki.pathstate), driven step by step.

The validator's behaviour is covered end to end by NIST PKITS (test_pkits.py, 255 cases
with their reason codes) and test_pki_validator.py; here each step's effect on the §6.1.2
state variables is checked on its own.
"""

from __future__ import annotations

import datetime as _dt

import pytest
from cryptography import x509
from test_pki_factory import AT, Pki, dn, make_cert

from jukicard.pki.pathstate import PathFailure, PathState, SignatureChecks
from jukicard.pki.policy import ValidationPolicy
from jukicard.pki.reasons import Reason
from jukicard.pki.result import RevocationState, RevocationStatus

POLICY = "1.2.392.200149.8.5.1.3.30"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki("ps")


def _state(pki: Pki, path: tuple, **policy: object) -> PathState:
    pol = ValidationPolicy((pki.root,), **policy)  # type: ignore[arg-type]
    return PathState.initialise(path, AT, pol, SignatureChecks(pol))


def test_initialise_sets_the_section_6_1_2_variables(pki: Pki) -> None:
    path = (pki.root, pki.ca, pki.ee(1))
    state = _state(pki, path)
    assert state.n == 2
    assert (state.explicit_policy, state.inhibit_any_policy, state.policy_mapping) == (3, 3, 3)
    assert state.max_path_length == 2
    assert state.working_issuer_name == pki.root.subject_key
    assert state.keys == {pki.root.der: state.working_public_key}
    strict = _state(pki, path, initial_explicit_policy=True, initial_any_policy_inhibit=True,
                    initial_policy_mapping_inhibit=True)
    assert (strict.explicit_policy, strict.inhibit_any_policy, strict.policy_mapping) == \
        (0, 0, 0)


def test_steps_move_the_working_variables_down_the_path(pki: Pki) -> None:
    ee = pki.ee(2)
    state = _state(pki, (pki.root, pki.ca, ee))
    state.basic_checks(1)
    state.check_name_constraints(1)
    state.process_policies(1)
    assert state.valid_policy_tree is None  # the CA has no certificatePolicies: §6.1.3 (e)
    state.prepare_next(1)
    assert state.working_issuer_name == pki.ca.subject_key
    assert state.keys[pki.ca.der] is state.working_public_key
    assert (state.explicit_policy, state.max_path_length) == (2, 1)
    state.basic_checks(2)
    state.wrap_up()
    assert state.explicit_policy == 1 and ee.der in state.keys


def test_basic_checks_name_the_position(pki: Pki) -> None:
    other = make_cert(dn("ps Other CA"), pki.ca_key, ca=True, serial=3)
    state = _state(pki, (pki.root, other))
    with pytest.raises(PathFailure) as info:
        state.basic_checks(1)  # self-signed by another key: the root's key cannot verify it
    assert (info.value.reason, info.value.position) == (Reason.BAD_SIGNATURE, 1)


def test_prepare_next_refuses_a_certificate_that_cannot_issue(pki: Pki) -> None:
    leaf_as_ca = pki.ee(4)
    state = _state(pki, (pki.root, pki.ca, leaf_as_ca, pki.ee(5)))
    state.prepare_next(1)
    with pytest.raises(PathFailure) as info:
        state.prepare_next(2)  # keyUsage without keyCertSign: §6.1.4 (n) before (k)
    assert (info.value.reason, info.value.position) == (Reason.NO_ISSUER, 2)


def test_explicit_policy_fails_at_wrap_up(pki: Pki) -> None:
    ca = make_cert(dn("ps Policy CA"), pki.ca_key, pki.root, pki.root_key, ca=True,
                   serial=6, policies=[POLICY])
    ee = make_cert(dn("ps policy ee"), pki.ee_key, ca, pki.ca_key, serial=7,
                   policies=[POLICY])
    assert _state(pki, (pki.root, ca, ee), initial_explicit_policy=True).run() == \
        frozenset({POLICY})
    state = _state(pki, (pki.root, ca, ee), initial_explicit_policy=True,
                   user_initial_policy_set=frozenset({"1.2.3.4"}))
    with pytest.raises(PathFailure) as info:
        state.run()
    assert (info.value.reason, info.value.position) == (Reason.NO_EXPLICIT_POLICY, 2)


def test_check_revocation_is_top_down_and_stops_at_the_first_problem(pki: Pki) -> None:
    path = (pki.root, pki.ca, pki.ee(8))
    state = _state(pki, path)
    asked: list[int] = []
    revoked_at = _dt.datetime(2024, 5, 2, tzinfo=_dt.UTC)

    def status_of(i: int) -> RevocationStatus | None:
        asked.append(i)
        return RevocationStatus(RevocationState.REVOKED, revoked_at=revoked_at,
                                message="revoked on 2024-05-02")

    with pytest.raises(PathFailure) as info:
        state.check_revocation(status_of)
    assert asked == [1] and (info.value.reason, info.value.position) == (Reason.REVOKED, 1)
    assert [r.position for r in state.revocation] == [1]

    unchecked = _state(pki, path)
    unchecked.check_revocation(lambda i: None)  # RevocationRule.NONE
    assert [(r.position, r.status) for r in unchecked.revocation] == [(1, None), (2, None)]

    unknown = _state(pki, path)
    with pytest.raises(PathFailure) as info:
        unknown.check_revocation(lambda i: RevocationStatus.unknown(Reason.CRL_STALE, "old"))
    assert info.value.reason is Reason.CRL_STALE


def test_prepare_next_takes_in_name_constraints(pki: Pki) -> None:
    nc = x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.jp")],
                              excluded_subtrees=None)
    ca = make_cert(dn("ps NC CA"), pki.ca_key, pki.root, pki.root_key, ca=True, serial=9,
                   extra_extensions=[(nc, True)])
    state = _state(pki, (pki.root, ca, pki.ee(10)))
    state.prepare_next(1)
    assert state.name_constraints.permitted == {"dns_name": ["example.jp"]}
