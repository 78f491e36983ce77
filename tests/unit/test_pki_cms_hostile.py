"""Hostile CMS (issue 13): every damaged, oversized or odd SignedData ends in a typed jukicard
error (or verifies, when it is only BER where BER is allowed) — never an exception from
asn1crypto or cryptography, never unbounded work.  The good vectors are what jukicard builds
with a SOFTWARE signer standing in for the card (``cms_forge``)."""

from __future__ import annotations

import time

import cms_forge as f
import pytest
from asn1crypto import cms as acms
from asn1crypto import core as acore
from asn1crypto import parser as aparser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pki_cms_pss import _build_pss

from jukicard.errors import UsageError, ValidationError
from jukicard.pki.cms import MalformedCmsError, SignedData, SignerNotFoundError, verify_cms

CONTENT = f.CONTENT
GOOD = f.good()
GOOD_ATTACHED = f.good(attached=True)
GOOD_PSS = _build_pss()


def _judge(der: bytes, content: bytes | None = CONTENT) -> object:
    """Parse and verify; a jukicard ValidationError/UsageError is the only way to fail."""
    try:
        sd = SignedData.parse(der)
        sd.verify_signers(detached_content=content if sd.detached else None)
        return sd.verify(detached_content=content if sd.detached else None)
    except (ValidationError, UsageError) as exc:
        return exc


def _only_typed(der: bytes, content: bytes | None = CONTENT) -> None:
    result = _judge(der, content)
    assert not isinstance(result, BaseException) or isinstance(
        result, (ValidationError, UsageError)), type(result)


@pytest.mark.parametrize("good", [GOOD, GOOD_ATTACHED, GOOD_PSS])
def test_truncated_at_every_offset_is_malformed(good):
    for cut in range(len(good)):
        with pytest.raises(MalformedCmsError):
            SignedData.parse(good[:cut])


@pytest.mark.parametrize("length", [b"\x84\x7f\xff\xff\xff", b"\x88" + b"\xff" * 8,
                                    b"\x81\x05", b"\x80"])
def test_outer_length_lies_is_malformed(length):
    body = GOOD[4:]  # the outer SEQUENCE header of GOOD is 30 82 xx xx
    assert GOOD[1] == 0x82
    with pytest.raises(MalformedCmsError):
        SignedData.parse(b"\x30" + length + body)


def _tlvs(der: bytes, start: int = 0, end: int | None = None, depth: int = 0):
    """(offset of the tag, class, constructed, contents start, end) of every value."""
    end = len(der) if end is None else end
    pointer = start
    while pointer < end:
        info, new = aparser._parse(der, end, pointer)
        cls, method, _tag, header, _contents, _trailer = info
        yield pointer, cls, method, pointer + len(header), new
        if method == 1 and depth < 12:
            yield from _tlvs(der, pointer + len(header), new, depth + 1)
        pointer = new


def test_wrong_type_in_every_field():
    """Each value's tag replaced by another universal tag (same length): typed errors."""
    for good in (GOOD_PSS,):
        seen = 0
        for offset, _cls, method, _c, _e in _tlvs(good):
            for tag in (0x04, 0x06, 0x17) if method == 0 else (0x31, 0xA3):
                if tag == good[offset]:
                    continue
                mutated = bytearray(good)
                mutated[offset] = tag
                _only_typed(bytes(mutated))
                seen += 1
        assert seen > 200  # every field of the structure was reached


def test_indefinite_length_outside_signed_attributes_is_accepted():
    """Decision: BER (here indefinite lengths) is allowed outside the signed attributes, as
    RFC 5652 allows and OpenSSL's streaming output uses; the result is the same."""
    inner = GOOD[4:]  # ContentInfo contents
    ber = b"\x30\x80" + inner + b"\x00\x00"
    (s,) = verify_cms(ber, detached_content=CONTENT).signers
    assert s.certificate == f.CERT and s.cades_bes


def test_indefinite_length_signed_attributes_are_malformed():
    attrs = f.raw_set(f.default_attrs())
    header = 4  # 31 82 xx xx
    ber_attrs = b"\x31\x80" + attrs[header:] + b"\x00\x00"
    with pytest.raises(MalformedCmsError, match="not DER"):
        verify_cms(f.signed_data([f.signer_info(ber_attrs)]), detached_content=CONTENT)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_huge_attribute_counts_are_refused_before_they_are_built():
    many = f.default_attrs() + [
        acms.CMSAttribute({"type": "1.2.3.4", "values": [acore.Null()]}).dump()] * 200_000
    der = f.signed_data([f.signer_info(f.raw_set(many))])
    with pytest.raises(MalformedCmsError, match="signed attributes"):
        SignedData.parse(der)
    values = [acore.Null().dump()] * 200_000
    big = acore.Sequence(contents=acore.ObjectIdentifier("1.2.3.4").dump()
                         + acore.SetOf(contents=b"".join(values)).dump()).dump()
    der = f.signed_data([f.signer_info(f.raw_set(f.default_attrs() + [big]))])
    with pytest.raises(MalformedCmsError, match="bytes"):  # 400 KB: over the size cap
        verify_cms(der, detached_content=CONTENT)
    fewer = acore.Sequence(contents=acore.ObjectIdentifier("1.2.3.4").dump()
                           + acore.SetOf(contents=b"".join(values[:100])).dump()).dump()
    der = f.signed_data([f.signer_info(f.raw_set(f.default_attrs() + [fewer]))])
    with pytest.raises(MalformedCmsError, match="too many values"):
        verify_cms(der, detached_content=CONTENT)


def test_huge_ess_certificate_list_is_malformed():
    one = f.signing_certificate_v2(f.CERT)["certs"][0].dump()
    value = acore.Sequence(contents=acore.Sequence(contents=one * 100).dump()).dump()
    oid = acore.ObjectIdentifier("1.2.840.113549.1.9.16.2.47").dump()
    attrs = f.without(f.default_attrs(), "signing_certificate_v2") + [
        acore.Sequence(contents=oid + acore.SetOf(contents=value).dump()).dump()]
    with pytest.raises(MalformedCmsError):
        verify_cms(f.signed_data([f.signer_info(f.raw_set(attrs))]), detached_content=CONTENT)


def test_deep_nesting_in_a_signed_attribute_value():
    nested = acore.Null().dump()
    for _ in range(3000):
        nested = acore.Sequence(contents=nested).dump()
    deep = acore.Sequence(contents=acore.ObjectIdentifier("1.2.3.4").dump()
                          + acore.SetOf(contents=nested).dump()).dump()
    der = f.signed_data([f.signer_info(f.raw_set(f.default_attrs() + [deep]))])
    _only_typed(der)


def test_signer_info_without_matching_certificate():
    der = f.signed_data([f.signer_info(f.raw_set(f.default_attrs()))], certs=[f.ROOT])
    with pytest.raises(SignerNotFoundError):
        verify_cms(der, detached_content=CONTENT)
    (o,) = SignedData.parse(der).verify_signers(detached_content=CONTENT)
    assert o.certificate is None and o.error is not None


def test_unknown_version_and_content_type_are_typed():
    sd = bytearray(GOOD)
    i = sd.index(b"\x02\x01\x01\x31")  # SignedData version 1 → 99
    sd[i + 2] = 99
    _only_typed(bytes(sd))
    other = f.signed_data([f.signer_info(f.raw_set(f.default_attrs()))])
    oid = acore.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
    swapped = other.replace(oid, acore.ObjectIdentifier("1.2.3.4.5.6.7.8").dump()[:len(oid)],
                            1)
    _only_typed(swapped)


GOODS = [GOOD, GOOD_ATTACHED, GOOD_PSS]


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(range(len(GOODS))),
       edits=st.lists(st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "cut"]),
                                st.integers(0, 1 << 20), st.integers(0, 255)),
                      min_size=1, max_size=4))
def test_seeded_mutation_fuzz_only_typed_errors(which, edits):
    """Random edits (seeded: the same cases every run) of good CMS: only jukicard errors."""
    der = bytearray(GOODS[which])
    for op, pos, byte in edits:
        if not der:
            break
        i = pos % len(der)
        if op == "flip":
            der[i] ^= 1 << (byte % 8)
        elif op == "set":
            der[i] = byte
        elif op == "insert":
            der[i:i] = bytes([byte])
        elif op == "delete":
            del der[i]
        else:
            del der[i:]
    _only_typed(bytes(der))
