"""BER-TLV: golden bytes from card-interface.md §8.1-8.4, length forms, padding, errors,
and fuzzing (only TlvError may escape)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jukicard.apdu import Tlv, decode_length, decode_tag, encode_length, encode_tag
from jukicard.errors import ApduError, TlvError

H = bytes.fromhex

# synthetic test values (not a real person's data)
MY_NUMBER_EF = H("FF100C") + b"123456789018" + H("FFFF")


# --------------------------------------------------------------------------- golden: §8.2


def test_my_number_ef_parse_first_leaves_padding() -> None:
    assert len(MY_NUMBER_EF) == 17
    tlv, rest = Tlv.parse_first(MY_NUMBER_EF)
    assert tlv.tag == 0xFF10 and tlv.value == b"123456789018"
    assert tlv.constructed and tlv.tag_class == 3
    assert rest == H("FFFF")


def test_my_number_ef_parse_with_padding() -> None:
    tlv = Tlv.parse(MY_NUMBER_EF, padding=b"\xff")
    assert tlv == Tlv(0xFF10, b"123456789018")
    assert bytes(tlv).ljust(17, b"\xff") == MY_NUMBER_EF
    with pytest.raises(TlvError):
        Tlv.parse(MY_NUMBER_EF)  # strict: the padding is not allowed by default
    assert Tlv.parse_all(MY_NUMBER_EF, padding=b"\xff") == [tlv]


def test_my_number_children_refused() -> None:
    # FF 10 is constructed but holds plain digits: children() must not invent TLVs
    with pytest.raises(TlvError):
        Tlv.parse(MY_NUMBER_EF, padding=b"\xff").children()


# --------------------------------------------------------------------------- golden: §8.1 / 8.6


def test_ap_basic_info_non_minimal_length_roundtrips_exactly() -> None:
    # FF 40 82 00 9F ... : a long form where the short/81 form would do (MYNA ber.rs)
    value = Tlv(0xDF41, H("01020304")).encode() + Tlv(0xDF42, bytes(16)).encode()
    value += Tlv(0xDF43, bytes(129)).encode()  # synthetic filler object: 133 bytes
    assert len(value) == 0x9F
    raw = H("FF4082009F") + value
    ef = raw.ljust(256, b"\xff")
    tlv = Tlv.parse(ef, padding=b"\xff")
    assert tlv.tag == 0xFF40 and len(tlv.value) == 0x9F
    assert tlv.length_octets == 2
    assert bytes(tlv) == raw  # the parsed form is kept
    assert tlv.header == H("FF4082009F")
    assert tlv != Tlv(0xFF40, tlv.value)  # different bytes, different object
    assert bytes(Tlv(0xFF40, tlv.value)) == H("FF40819F") + value  # minimal re-encoding
    assert tlv.find(0xDF41) == Tlv(0xDF41, H("01020304"))
    assert tlv.require(0xDF42).value == bytes(16)
    # zero filler inside a container is refused strictly, accepted as explicit padding
    padded = Tlv(0xFF40, value[:26] + bytes(133), length_octets=2)
    with pytest.raises(TlvError):
        padded.children()
    assert [c.tag for c in padded.children(padding=b"\x00")] == [0xDF41, 0xDF42]


def test_basic_four_info_ef_offsets() -> None:
    name = "試験 太郎".encode()
    address = "東京都千代田区試験町1-1".encode()
    birth = b"19800101"
    sex = b"9"
    leaves = [Tlv(0xDF22, name), Tlv(0xDF23, address), Tlv(0xDF24, birth), Tlv(0xDF25, sex)]
    header_len = 5 + 11  # FF 20 82 hh ll + DF 21 08 <8 bytes>
    offsets, pos = [], header_len
    for leaf in leaves:
        offsets.append(pos)
        pos += leaf.encoded_length
    table = Tlv(0xDF21, b"".join(o.to_bytes(2, "big") for o in offsets))
    ef = Tlv.build(0xFF20, [table, *leaves], length_octets=2).encode().ljust(256, b"\xff")
    assert ef[:3] == H("FF2082") and ef[5:8] == H("DF2108")
    assert offsets[0] == 0x10  # name TLV starts at offset 16 with an 82-form header

    outer = Tlv.parse(ef, padding=b"\xff")
    kids = outer.children()
    assert [k.tag for k in kids] == [0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25]
    assert kids[1].value.decode() == "試験 太郎"
    got = [int.from_bytes(kids[0].value[i : i + 2], "big") for i in range(0, 8, 2)]
    assert got == offsets
    for off, leaf in zip(got, leaves, strict=True):
        assert Tlv.parse_first(ef[off:])[0] == leaf
    # iter_with_offsets gives the same offsets, relative to the value
    inner = list(Tlv.iter_with_offsets(outer.value))
    assert [o + len(outer.header) for o, _ in inner[1:]] == offsets


def test_text_ap_signature_ef_layout() -> None:
    ef = Tlv.build(
        0xFF30,
        [Tlv(0xDF31, bytes(32)), Tlv(0xDF32, b"\x11" * 32), Tlv(0xDF33, b"\x22" * 256)],
    ).encode()
    assert len(ef) == 336
    assert ef[:5] == H("FF3082014B")
    assert ef[5:8] == H("DF3120") and ef[40:43] == H("DF3220")
    assert ef[75:80] == H("DF33820100")
    assert Tlv.parse(ef).require(0xDF33).value == b"\x22" * 256


def test_cv_certificate_layout() -> None:
    body = (b"5000033" + H("0805") + b"001" + bytes(4)) + bytes(16)
    body += Tlv(0x90, H("010001")).encode() + Tlv(0x91, b"\x33" * 256).encode()
    assert len(body) == 297
    cert = Tlv.build(0x7F21, [Tlv(0x5F4E, body), Tlv(0x5F37, b"\x44" * 256)]).encode()
    assert cert[:5] == H("7F21820233")
    assert cert[5:10] == H("5F4E820129")
    assert cert[307:312] == H("5F37820100")
    parsed = Tlv.parse(cert)
    assert parsed.tag == 0x7F21 and parsed.constructed and parsed.tag_class == 1
    assert [c.tag for c in parsed.children()] == [0x5F4E, 0x5F37]
    assert not parsed.require(0x5F4E).constructed
    assert Tlv.parse_all(parsed.require(0x5F4E).value[32:]) == [
        Tlv(0x90, H("010001")),
        Tlv(0x91, b"\x33" * 256),
    ]


def test_certificate_header_from_read_binary() -> None:
    # first 4 bytes of a JPKI cert EF: 30 82 06 1F → total size 0x061F + 4
    tag, pos = decode_tag(H("3082061F"))
    length, end = decode_length(H("3082061F"), pos)
    assert (tag, pos, length, end) == (0x30, 1, 0x061F, 4)


# --------------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    ("raw", "tag", "end"),
    [
        ("30", 0x30, 1),
        ("DF21", 0xDF21, 2),
        ("FF10", 0xFF10, 2),
        ("7F21", 0x7F21, 2),
        ("5F4E", 0x5F4E, 2),
        ("9F7F", 0x9F7F, 2),
        ("BF8101", 0xBF8101, 3),
        ("FF818201", 0xFF818201, 4),
        ("00", 0x00, 1),
    ],
)
def test_decode_tag(raw: str, tag: int, end: int) -> None:
    assert decode_tag(H(raw) + b"\x05") == (tag, end)
    assert encode_tag(tag) == H(raw)


@pytest.mark.parametrize("raw", ["", "1F", "FF", "FF81", "FF8182", "FF81828301"])
def test_decode_tag_malformed(raw: str) -> None:
    with pytest.raises(TlvError):
        decode_tag(H(raw))


def test_decode_tag_at_offset() -> None:
    assert decode_tag(H("0000DF2101"), 2) == (0xDF21, 4)
    with pytest.raises(TlvError):
        decode_tag(H("00"), 5)


@pytest.mark.parametrize("tag", [0x1F, 0xFF, 0xFF90, 0xDF, -1, 0x1FFFFFFFF, 0xFF81828301, 0xFF0010])
def test_invalid_tag_values(tag: int) -> None:
    with pytest.raises(TlvError):
        Tlv(tag, b"")
    with pytest.raises(TlvError):
        encode_tag(tag)


@pytest.mark.parametrize("tag", ["30", None, 1.5, True])
def test_tag_type(tag: object) -> None:
    with pytest.raises(TlvError):
        Tlv(tag, b"")  # type: ignore[arg-type]


def test_value_must_be_bytes() -> None:
    with pytest.raises(TlvError):
        Tlv(0x30, "abc")  # type: ignore[arg-type]
    with pytest.raises(TlvError):
        Tlv(0x30, 3)  # type: ignore[arg-type]
    assert Tlv(0x30, bytearray(b"ab")).value == b"ab"  # type: ignore[arg-type]


# --------------------------------------------------------------------------- lengths


@pytest.mark.parametrize(
    ("raw", "length", "end"),
    [
        ("00", 0, 1),
        ("7F", 127, 1),
        ("8180", 128, 2),
        ("81FF", 255, 2),
        ("820100", 256, 3),
        ("82FFFF", 65535, 3),
        ("83010000", 65536, 4),
        ("8401000000", 1 << 24, 5),
        ("819F", 0x9F, 2),
        ("82009F", 0x9F, 3),  # non-minimal: accepted
        ("8105", 5, 2),  # non-minimal: accepted
        ("8400000005", 5, 5),
    ],
)
def test_decode_length(raw: str, length: int, end: int) -> None:
    assert decode_length(H(raw)) == (length, end)


@pytest.mark.parametrize(
    "raw", ["", "80", "85 0000000001", "FF", "81", "8201", "83 0000", "840000"]
)
def test_decode_length_malformed(raw: str) -> None:
    with pytest.raises(TlvError):
        decode_length(H(raw.replace(" ", "")))


@pytest.mark.parametrize(
    ("n", "form", "raw"),
    [
        (0, None, "00"),
        (127, None, "7F"),
        (128, None, "8180"),
        (255, None, "81FF"),
        (256, None, "820100"),
        (65535, None, "82FFFF"),
        (65536, None, "83010000"),
        (1 << 24, None, "8401000000"),
        (0x9F, 2, "82009F"),
        (5, 1, "8105"),
        (5, 0, "05"),
        (5, 4, "8400000005"),
        (256, 2, "820100"),
    ],
)
def test_encode_length(n: int, form: int | None, raw: str) -> None:
    assert encode_length(n, form) == H(raw)
    assert decode_length(H(raw)) == (n, len(raw) // 2)


@pytest.mark.parametrize(
    ("n", "form"),
    [(-1, None), (128, 0), (256, 1), (65536, 2), (1 << 32, None), (1 << 32, 4), (5, 5), (5, -1)],
)
def test_encode_length_refused(n: int, form: int | None) -> None:
    with pytest.raises(TlvError):
        encode_length(n, form)


def test_length_octets_on_tlv() -> None:
    assert bytes(Tlv(0xFF20, b"ab", length_octets=2)) == H("FF20820002") + b"ab"
    assert bytes(Tlv(0xFF20, b"ab", length_octets=0)) == H("FF2002") + b"ab"
    assert Tlv(0xFF20, b"ab", length_octets=0) == Tlv(0xFF20, b"ab")  # minimal is normalised
    with pytest.raises(TlvError):
        Tlv(0xFF20, bytes(300), length_octets=1)
    with pytest.raises(TlvError):
        Tlv(0xFF20, bytes(300), length_octets=0)
    with pytest.raises(TlvError):
        Tlv(0xFF20, b"", length_octets=7)


# --------------------------------------------------------------------------- structure errors


@pytest.mark.parametrize(
    "raw",
    [
        "",  # nothing
        "30",  # no length
        "3005 0102",  # value truncated
        "3080 0000",  # indefinite length
        "30 85 0000000001 00",  # 5 length octets
        "DF",  # tag cut short
        "FF10 0C 31323334",  # My Number truncated
        "FF40 82 00",  # length field cut short
    ],
)
def test_malformed_tlv(raw: str) -> None:
    with pytest.raises(TlvError):
        Tlv.parse_first(H(raw.replace(" ", "")))
    with pytest.raises(TlvError):
        Tlv.parse_all(H(raw.replace(" ", "")) or b"\x30")


def test_nested_indefinite_refused() -> None:
    outer = Tlv(0x70, H("A0800000"))  # inner child uses indefinite length
    with pytest.raises(TlvError):
        outer.children()


def test_parse_exactly_one() -> None:
    assert Tlv.parse(H("0101AA")) == Tlv(0x01, b"\xAA")
    with pytest.raises(TlvError):
        Tlv.parse(H("0101AA 0100".replace(" ", "")))
    with pytest.raises(TlvError):
        Tlv.parse(H("FFFF"), padding=b"\xff")  # only padding: no TLV


def test_parse_all_sequence_and_padding() -> None:
    seq = [Tlv(0xDF41, b"\x01"), Tlv(0xFF50, Tlv(0xDF51, b"xy").encode()), Tlv(0x04, b"")]
    raw = b"".join(bytes(t) for t in seq)
    assert Tlv.parse_all(raw) == seq
    assert Tlv.parse_all(raw + b"\xff" * 10, padding=b"\xff") == seq
    assert Tlv.parse_all(raw + b"\x00\xff\x00", padding=b"\x00\xff") == seq
    assert Tlv.parse_all(b"") == []
    assert Tlv.parse_all(b"\xff" * 4, padding=b"\xff") == []
    with pytest.raises(TlvError):
        Tlv.parse_all(raw + b"\xff\xff")  # strict by default
    with pytest.raises(TlvError):
        Tlv.parse_all(raw + b"\x00\xff", padding=b"\xff")  # 00 is not padding here
    # an FF-tagged TLV in the middle is still parsed when padding is allowed
    assert Tlv.parse_all(raw + H("FF1001AA") + b"\xff", padding=b"\xff")[-1] == Tlv(0xFF10, b"\xAA")


def test_iter_with_offsets() -> None:
    raw = H("DF4101AA") + H("0100") + H("FF")
    assert list(Tlv.iter_with_offsets(raw, padding=b"\xff")) == [
        (0, Tlv(0xDF41, b"\xAA")),
        (4, Tlv(0x01, b"")),
    ]


def test_find_and_require() -> None:
    outer = Tlv.build(0xFF20, [Tlv(0xDF21, b"a"), Tlv(0xDF22, b"b"), Tlv(0xDF22, b"c")])
    assert outer.find(0xDF22) == Tlv(0xDF22, b"b")
    assert outer.find(0xDF99) is None
    with pytest.raises(TlvError):
        outer.require(0xDF99)
    assert outer.children()[2].value == b"c"


def test_constructed_flag() -> None:
    assert Tlv(0xFF20).constructed and Tlv(0x30).constructed and Tlv(0x7F21).constructed
    assert not Tlv(0xDF21).constructed and not Tlv(0x5F4E).constructed
    assert not Tlv(0x04).constructed and not Tlv(0x9F7F).constructed
    assert [Tlv(t).tag_class for t in (0x30, 0x5F4E, 0x80, 0xDF21)] == [0, 1, 2, 3]


def test_frozen_and_repr_hides_value() -> None:
    tlv = Tlv(0xFF10, b"123456789018")
    with pytest.raises(AttributeError):
        tlv.value = b""  # type: ignore[misc]
    assert "123456789018" not in repr(tlv)
    assert "FF10" in repr(tlv)


@pytest.mark.parametrize("data", ["FF10", None, 7])
def test_parse_non_bytes(data: object) -> None:
    with pytest.raises(TlvError):
        Tlv.parse_first(data)  # type: ignore[arg-type]
    with pytest.raises(TlvError):
        Tlv.parse_all(data)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

ONE_BYTE_TAGS = st.integers(0, 0xFF).filter(lambda b: b & 0x1F != 0x1F)
TWO_BYTE_TAGS = st.builds(
    lambda first, second: (first << 8) | second,
    st.integers(0, 7).map(lambda c: (c << 5) | 0x1F),
    st.integers(0, 0x7F),
)
TAGS = st.one_of(ONE_BYTE_TAGS, TWO_BYTE_TAGS)


@st.composite
def tlvs(draw: st.DrawFn, depth: int = 2) -> Tlv:
    tag = draw(TAGS)
    if depth > 0 and draw(st.booleans()):
        kids = draw(st.lists(tlvs(depth=depth - 1), max_size=3))
        value = b"".join(bytes(k) for k in kids)
    else:
        value = draw(st.one_of(st.binary(max_size=40), st.binary(min_size=120, max_size=300)))
    n = len(value)
    minimal = 0 if n < 128 else (n.bit_length() + 7) // 8
    form = draw(st.one_of(st.none(), st.integers(max(minimal, 1), 4)))
    return Tlv(tag, value, form)


@given(st.lists(tlvs(), max_size=4))
@settings(max_examples=200)
def test_roundtrip_sequences(seq: list[Tlv]) -> None:
    raw = b"".join(bytes(t) for t in seq)
    assert Tlv.parse_all(raw) == seq
    assert Tlv.parse_all(raw + b"\xff" * 3, padding=b"\xff") == seq
    for t in seq:
        assert Tlv.parse(bytes(t)) == t
        assert t.encoded_length == len(bytes(t))


@given(st.binary(max_size=400))
@settings(max_examples=1000)
def test_fuzz_parse_only_tlv_errors_and_exact(raw: bytes) -> None:
    try:
        tlv, rest = Tlv.parse_first(raw)
    except TlvError:
        pass
    else:
        assert bytes(tlv) + rest == raw  # parsing never loses or rewrites bytes
        try:
            tlv.children()
        except TlvError:
            pass
    for padding in (b"", b"\xff", b"\x00\xff"):
        try:
            seq = Tlv.parse_all(raw, padding=padding)
        except TlvError:
            continue
        consumed = b"".join(bytes(t) for t in seq)
        assert raw.startswith(consumed)
        assert not raw[len(consumed) :].strip(padding)


@given(st.binary(max_size=12), st.integers(0, 14))
def test_fuzz_field_decoders(raw: bytes, offset: int) -> None:
    for fn in (decode_tag, decode_length):
        try:
            _, end = fn(raw, offset)
        except ApduError:
            continue
        assert offset < end <= len(raw)
