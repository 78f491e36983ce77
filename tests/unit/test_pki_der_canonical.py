"""``pki.der.is_canonical_der``: the DER check of a CMS's signed attributes (issue 13) — a
walk over the bytes instead of asn1crypto's ``dump(force=True)`` round trip, which made a
CMS check about 200 times a raw signature check.  Each BER variant a signer could use is
refused; the asn1crypto round trip is the witness on generated attribute sets."""

from __future__ import annotations

import datetime as dt

from asn1crypto import cms, core
from hypothesis import given, settings
from hypothesis import strategies as st

from jukicard.pki.der import is_canonical_der

GOOD = cms.CMSAttributes([
    {"type": "content_type", "values": ["data"]},
    {"type": "message_digest", "values": [b"\x01" * 32]},
    {"type": "signing_time", "values": [cms.Time(name="utc_time", value=dt.datetime(
        2026, 12, 6, tzinfo=dt.UTC))]},
]).dump(force=True)


def test_der_signed_attributes_pass() -> None:
    assert is_canonical_der(GOOD)


def test_unsorted_set_of_is_refused() -> None:
    body = GOOD[2:]  # short-form length: the three attributes
    parts = []
    off = 0
    while off < len(body):
        size = 2 + body[off + 1]
        parts.append(body[off:off + size])
        off += size
    assert sorted(parts) == parts
    swapped = bytes([0x31, len(body)]) + parts[1] + parts[0] + parts[2]
    assert not is_canonical_der(swapped)


def test_indefinite_and_long_form_lengths_are_refused() -> None:
    inner = GOOD[2:]
    assert not is_canonical_der(b"\x31\x80" + inner + b"\x00\x00")
    assert not is_canonical_der(b"\x31\x81" + bytes([len(inner)]) + inner)


def test_constructed_octet_string_and_odd_integers_and_booleans_are_refused() -> None:
    assert not is_canonical_der(b"\x24\x06\x04\x01a\x04\x01b")  # constructed OCTET STRING
    assert not is_canonical_der(b"\x02\x02\x00\x05")  # INTEGER 5 with a leading zero
    assert not is_canonical_der(b"\x02\x02\xff\x85")  # negative with a redundant FF
    assert is_canonical_der(b"\x02\x02\x00\x85")  # 133 needs its zero
    assert not is_canonical_der(b"\x01\x01\x01")  # BOOLEAN TRUE must be FF
    assert is_canonical_der(b"\x01\x01\xff")


def test_garbage_and_depth_are_refused() -> None:
    assert not is_canonical_der(b"\x30\x05\x02\x01")
    deep = b"\x05\x00"
    for _ in range(60):
        deep = bytes([0x30, len(deep)]) + deep if len(deep) < 128 else deep
    assert not is_canonical_der(deep, limit=10)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=6),
       st.randoms(use_true_random=False))
def test_agrees_with_asn1crypto_round_trip(values: list[bytes], rnd: object) -> None:
    """The witness: asn1crypto re-encodes the set in DER; our walk says DER exactly when the
    bytes are that re-encoding (for sets written in any order)."""
    items = [core.OctetString(v).dump() for v in values]
    rnd.shuffle(items)  # type: ignore[attr-defined]
    body = b"".join(items)
    if len(body) > 127:
        return
    der = bytes([0x31, len(body)]) + body
    canonical = core.SetOf.load(der, spec=core.OctetString).dump(force=True)
    assert is_canonical_der(der) == (canonical == der)
