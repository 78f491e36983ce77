"""The NumPy CRL index (jukicard.pki.crlindex / crlscan) against the asn1crypto reference.

CRLs come from :mod:`jukicard.testing.bigcrl` (random shapes: serial widths 1–21 octets,
negative serials, reasonCode, invalidityDate, GeneralizedTime revocation dates, indirect
certificateIssuer switches, long-form entries); every entry's membership and details must be
those of the reference reading (``_index_entries_asn1``: asn1crypto, one object per entry).
Hostile CRLs must give a typed MalformedCrlError (never a hang, another exception, or an index
that differs from the reference), and a changed index file a typed CrlIndexError.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asn1crypto import crl as acrl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jukicard.pki import backend
from jukicard.pki.crl import Crl, _index_entries_asn1
from jukicard.pki.crlindex import CrlIndex, CrlIndexError, RevokedEntry
from jukicard.pki.crlscan import _resolve_chain, entry_starts
from jukicard.pki.errors import MalformedCrlError
from jukicard.pki.names import name_key
from jukicard.testing.bigcrl import CrlShape, crl_bytes, make_signer

SIGNER = make_signer(ec_key=True)
OTHER = make_signer("jukicard bigcrl other issuer", ec_key=True, units=["u" * 60, "v" * 60])


def reference(der: bytes, crl: Crl) -> dict[tuple[Any, int], RevokedEntry]:
    ref, _ = _index_entries_asn1(acrl.CertificateList.load(der)["tbs_cert_list"],
                                 crl.issuer_key)
    return ref


def assert_same_as_reference(der: bytes) -> Crl:
    crl = Crl.parse(der)
    ref = reference(der, crl)
    serials = [s for (_, s) in ref]
    assert len(crl) == len(list(acrl.CertificateList.load(der)["tbs_cert_list"]
                                ["revoked_certificates"]))
    for (issuer, serial), entry in ref.items():
        assert crl.lookup(issuer, serial) == entry
        assert crl.index.contains(serial, issuer)
        assert crl.lookup(issuer, serial + 1) == ref.get((issuer, serial + 1))
    own = [s for (i, s) in ref if i == crl.issuer_key]
    assert crl.index.contains_many(own).all()
    absent = [s * 3 + 1 for s in serials if (crl.issuer_key, s * 3 + 1) not in ref]
    assert not crl.index.contains_many(absent).any()
    small = [s for s in own if -(1 << 63) <= s < 1 << 63]
    assert crl.index.contains_many(np.array(small, dtype=np.int64)).all()
    return crl


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 200), st.tuples(st.integers(2, 21), st.integers(0, 19)),
       st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 0.5),
       st.lists(st.integers(0, 199), max_size=3), st.integers(0, 2**32))
def test_random_shapes_equal_the_reference(n: int, widths: tuple[int, int], neg: float,
                                           reason: float, inv: float, late: float,
                                           switches: list[int], seed: int) -> None:
    lo = widths[0]
    hi = min(21, lo + widths[1])
    if n > 1 << (8 * (lo - 1)):
        lo = hi = 3
    issuers = {p: (OTHER if k % 2 == 0 else SIGNER).name_der for k, p in enumerate(switches)}
    shape = CrlShape(entries=n, serial_octets=(lo, hi), negative_fraction=neg,
                     reason_fraction=reason, invalidity_fraction=inv, generalized_fraction=late,
                     certificate_issuers=issuers, seed=seed, chunk=64)
    assert_same_as_reference(crl_bytes(shape, SIGNER))


def test_explicit_serials_of_every_width() -> None:
    serials = [0, 1, -1, 127, 128, -128, -129, 255, 256, 2**63 - 1, 2**63, -2**63, -2**63 - 1,
               2**64, 2**127, -2**127, 2**159, 2**167 - 1, -2**167]
    crl = assert_same_as_reference(crl_bytes(CrlShape(serials=serials, reason_fraction=0.5),
                                             SIGNER))
    assert "mid" in crl.index._a  # wide serials: three words kept
    assert not crl.index.contains(2**167) and not crl.index.contains(5)


def test_serials_wider_than_21_octets_take_the_slow_path() -> None:
    # 2**200 needs 26 octets: kept aside, still found
    der = crl_bytes(CrlShape(serials=[7], reason_fraction=0.0), SIGNER)
    crl = Crl.parse(der)
    assert crl.index.contains(7)
    big = acrl.CertificateList.load(der)
    tbs = acrl.TbsCertList.load(big["tbs_cert_list"].dump())
    tbs["revoked_certificates"][0]["user_certificate"] = 2**200
    tbs["revoked_certificates"].append(acrl.RevokedCertificate({
        "user_certificate": 9, "revocation_date": tbs["this_update"].copy()}))
    der2 = acrl.CertificateList({"tbs_cert_list": tbs,
                                 "signature_algorithm": big["signature_algorithm"],
                                 "signature": big["signature"]}).dump(force=True)
    crl2 = assert_same_as_reference(der2)
    assert crl2.index.contains(2**200) and crl2.index.contains(9)
    assert list(crl2.index.contains_many([2**200, 9, 2**201])) == [True, True, False]


def test_duplicate_serials_earliest_revocation_wins() -> None:
    """Decision: a serial listed twice is kept twice; the entry answered is the one with the
    earliest revocationDate (the reference dict kept the last one listed)."""
    der = crl_bytes(CrlShape(serials=[5, 7, 5, 5], seed=3), SIGNER)
    crl = Crl.parse(der)
    dates = [rc["revocation_date"].native for rc in
             acrl.CertificateList.load(der)["tbs_cert_list"]["revoked_certificates"]]
    fives = [d for d, s in zip(dates, [5, 7, 5, 5], strict=True) if s == 5]
    entry = crl.lookup(crl.issuer_key, 5)
    assert entry is not None and entry.revoked_at == min(fives)
    assert crl.index.duplicates == 2 and len(crl) == 4


def test_a_crl_repeating_serials_beyond_the_cap_is_refused() -> None:
    """Every look-up reads every copy of its key: a CRL listing one serial a million times
    would cost seconds per look-up (issue 10 verification review); more than
    MAX_DUPLICATES repeats is a malformed CRL."""
    from jukicard.pki.crlindex import MAX_DUPLICATES

    Crl.parse(crl_bytes(CrlShape(serials=[5] * (MAX_DUPLICATES + 1) + [7], seed=3), SIGNER))
    with pytest.raises(MalformedCrlError, match="more than once"):
        Crl.parse(crl_bytes(CrlShape(serials=[5] * (MAX_DUPLICATES + 2) + [7], seed=3),
                            SIGNER))


def test_long_form_entries_resolve_by_pointer_doubling() -> None:
    """An entry longer than 127 octets (a long certificateIssuer) defeats pass 1."""
    der = crl_bytes(CrlShape(entries=50, certificate_issuers={10: OTHER.name_der},
                             reason_fraction=0.3), SIGNER)
    crl = assert_same_as_reference(der)
    other = name_key(acrl.CertificateList.load(der)["tbs_cert_list"]["revoked_certificates"]
                     [10]["crl_entry_extensions"][0]["extn_value"].parsed[0].chosen)
    assert crl.index.contains(crl.lookup(other, _serial_at(der, 12)).serial, other)
    assert crl.lookup(crl.issuer_key, _serial_at(der, 12)) is None


def _serial_at(der: bytes, k: int) -> int:
    rcs = acrl.CertificateList.load(der)["tbs_cert_list"]["revoked_certificates"]
    return int(rcs[k]["user_certificate"].native)


def test_false_candidates_inside_serials_are_not_entries() -> None:
    # a serial whose octets look like the start of an entry: 30 0f 02 01 ...
    fake = int.from_bytes(bytes.fromhex("40300f020101170d") + b"x" * 5, "big")
    der = crl_bytes(CrlShape(serials=[fake, 3, fake + 1]), SIGNER)
    assert_same_as_reference(der)


def test_resolve_chain_refuses_a_broken_chain() -> None:
    starts = np.array([10, 20, 25, 30], np.int64)
    ends = np.array([20, 35, 30, 40], np.int64)
    with pytest.raises(MalformedCrlError):
        _resolve_chain(starts, ends, 10, 40)  # 10 → 20 → 35: no candidate there
    ends_ok = np.array([20, 25, 30, 40], np.int64)
    assert list(_resolve_chain(starts, ends_ok, 10, 40)) == [10, 20, 25, 30]


# ------------------------------------------------------------------ hostile input
def _list_span(der: bytes) -> tuple[int, int]:
    from jukicard.pki.crlscan import layout

    span = layout(der).entries
    assert span is not None
    return span


HOSTILE_BASE = crl_bytes(CrlShape(entries=40, reason_fraction=0.5, invalidity_fraction=0.3),
                         SIGNER)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**9), st.integers(1, 255), st.integers(1, 3))
def test_mutated_entry_lists_fail_typed_or_match_the_reference(where: int, xor: int,
                                                               count: int) -> None:
    begin, end = _list_span(HOSTILE_BASE)
    der = bytearray(HOSTILE_BASE)
    rnd = random.Random(where)
    for _ in range(count):
        der[begin + rnd.randrange(end - begin)] ^= xor
    try:
        crl = Crl.parse(bytes(der))
        crl.check_entries()  # the uncommon entries are decoded on first use (issue 10 review)
    except MalformedCrlError:
        return
    try:
        ref = reference(bytes(der), crl)
    except Exception:
        pytest.fail("the index accepted an entry list the reference refuses")
    for (issuer, serial), entry in ref.items():
        got = crl.lookup(issuer, serial)
        assert got is not None and got.serial == entry.serial


@pytest.mark.parametrize("edit", ["entry-long", "entry-short", "list-past-end",
                                  "huge-length", "indefinite", "truncated"])
def test_hostile_lengths_are_malformed(edit: str) -> None:
    begin, end = _list_span(HOSTILE_BASE)
    der = bytearray(HOSTILE_BASE)
    if edit == "entry-long":
        der[begin + 1] += 1
    elif edit == "entry-short":
        der[begin + 1] -= 1
    elif edit == "list-past-end":
        # the list claims more than the TBS holds
        hdr = begin - 2 if der[begin - 2] & 0x80 == 0 else begin - 4
        der[hdr + 3] = 0xFF
    elif edit == "huge-length":
        der[begin + 1:begin + 2] = b"\x84\x7f\xff\xff\xff"
    elif edit == "indefinite":
        der[begin + 1] = 0x80
    else:
        der = der[:begin + (end - begin) // 2]
    with pytest.raises(MalformedCrlError):
        Crl.parse(bytes(der))
    with pytest.raises(MalformedCrlError):
        CrlIndex.ingest(bytes(der))


def test_entry_starts_on_an_empty_and_a_garbage_list() -> None:
    buf = np.frombuffer(b"\x00" * 64, np.uint8)
    assert len(entry_starts(buf, 10, 10)) == 0
    with pytest.raises(MalformedCrlError):
        entry_starts(buf, 10, 60)


# ------------------------------------------------------------------ saved index
def test_save_load_round_trip_and_tampering(tmp_path: Path) -> None:
    der = crl_bytes(CrlShape(entries=500, serial_octets=(3, 21), reason_fraction=0.4,
                             certificate_issuers={100: OTHER.name_der}), SIGNER)
    sha = hashlib.sha256(der).hexdigest()
    built = CrlIndex.ingest(der)
    path = tmp_path / "crl.idx"
    built.save(path)
    loaded = CrlIndex.load(path, crl_sha256=sha, der=der)
    serials = [_serial_at(der, k) for k in range(0, 500, 7)]
    assert list(loaded.contains_many(serials)) == list(built.contains_many(serials))
    assert loaded.entry(serials[3]) == built.entry(serials[3])
    assert len(loaded) == 500
    with pytest.raises(CrlIndexError):
        CrlIndex.load(path, crl_sha256="00" * 32)
    with pytest.raises(CrlIndexError):
        CrlIndex.load(path, crl_sha256=sha).entry(serials[0])  # no CRL bytes given
    raw = path.read_bytes()
    for at in (30, 200, len(raw) // 2, len(raw) - 1):
        bad = bytearray(raw)
        bad[at] ^= 1
        path.write_bytes(bytes(bad))
        with pytest.raises(CrlIndexError):
            CrlIndex.load(path, crl_sha256=sha)
    path.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(CrlIndexError):
        CrlIndex.load(path, crl_sha256=sha)


def test_ingest_from_a_path_is_memory_mapped(tmp_path: Path) -> None:
    der = crl_bytes(CrlShape(entries=100), SIGNER)
    (tmp_path / "c.crl").write_bytes(der)
    index = CrlIndex.ingest(tmp_path / "c.crl")
    assert index.contains(_serial_at(der, 99)) and len(index) == 100


# ------------------------------------------------------------------ signature, generator
def test_large_tbs_is_verified_prehashed() -> None:
    """Above PREHASH_FROM the TBS view is hashed with hashlib and verified as a digest."""
    rsa_signer = make_signer()
    crl = Crl.parse(crl_bytes(CrlShape(entries=5000), rsa_signer))
    assert len(crl.tbs_view) > backend.PREHASH_FROM
    key = rsa_signer.key.public_key()
    assert backend.verify_signature(key, crl.signature_algorithm_asn1, crl.signature,
                                    crl.tbs_view)
    bad = bytearray(crl.tbs)
    bad[-40] ^= 1
    assert not backend.verify_signature(key, crl.signature_algorithm_asn1, crl.signature,
                                        memoryview(bytes(bad)))


def test_generator_output_is_a_valid_signed_crl() -> None:
    from cryptography import x509

    der = crl_bytes(CrlShape(entries=300, reason_fraction=0.5, invalidity_fraction=0.5,
                             generalized_fraction=0.2), SIGNER)
    parsed = acrl.CertificateList.load(der, strict=True)
    assert len(parsed["tbs_cert_list"]["revoked_certificates"]) == 300
    assert parsed.dump(force=True) == der  # DER: re-encodes to the same bytes
    loaded = x509.load_der_x509_crl(der)
    assert loaded.is_signature_valid(SIGNER.key.public_key())
    serials = [rc.serial_number for rc in loaded]
    assert len(set(serials)) == 300
    assert loaded.next_update_utc == _dt.datetime(2024, 7, 1, tzinfo=_dt.UTC)


def test_revocation_source_saves_and_reuses_the_index(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from jukicard.pki import CrlRevocationSource

    der = crl_bytes(CrlShape(entries=300, reason_fraction=0.2), SIGNER)
    first = CrlRevocationSource([der], index_dir=tmp_path)
    saved = list(tmp_path.glob("*.crlidx"))
    assert [p.name for p in saved] == [f"{hashlib.sha256(der).hexdigest()}.crlidx"]

    def no_build(*_: Any, **__: Any) -> None:
        raise AssertionError("indexed again")

    with monkeypatch.context() as m:
        m.setattr(CrlIndex, "build", no_build)
        again = CrlRevocationSource([der], index_dir=tmp_path)
    crl_a, crl_b = list(first.store), list(again.store)
    serial = _serial_at(der, 150)
    assert crl_b[0].lookup(crl_b[0].issuer_key, serial) == \
        crl_a[0].lookup(crl_a[0].issuer_key, serial) is not None
    saved[0].write_bytes(saved[0].read_bytes()[:-3])  # damaged: rebuilt, not trusted
    third = CrlRevocationSource([der], index_dir=tmp_path)
    assert list(third.store)[0].index.contains(serial)
    assert CrlIndex.load(saved[0], crl_sha256=hashlib.sha256(der).hexdigest()).contains(serial)


def test_strict_profile_of_generated_crls() -> None:
    """Common-shape entries pass the §5.3 checks without cryptography's per-entry walk;
    a v1 CRL with a reasonCode entry is refused (§5.1.2.1), as before issue 10."""
    from jukicard.pki.conformance_crl import crl_violation
    from jukicard.pki.reasons import Reason

    der = crl_bytes(CrlShape(entries=200, reason_fraction=0.3, invalidity_fraction=0.3,
                             certificate_issuers={20: OTHER.name_der}), SIGNER)
    crl = Crl.parse(der)
    assert len(crl.index.slow_positions) == 1 and crl_violation(crl) is None
    cl = acrl.CertificateList.load(der)
    tbs = acrl.TbsCertList.load(cl["tbs_cert_list"].dump())
    tbs["version"] = "v1"
    v1 = acrl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm":
                               cl["signature_algorithm"], "signature": cl["signature"]})
    found = crl_violation(Crl.parse(v1.dump(force=True)))
    assert found is not None and found.reason == Reason.CRL_VERSION
