"""Card data objects: golden bytes from card-interface.md §8, round trips, tampering, fuzz."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from jukicard.card.dataobjects import (
    ApBasicInfo,
    BasicInfo,
    CommonCardId,
    CvCertificate,
    DataIntegrityError,
    MyNumber,
    Sex,
    TextApSignature,
    TokenInfo,
    TokenKind,
    VisualBirth,
    VisualEntries,
    basic_info_hash_range,
    is_valid_my_number,
    my_number_check_digit,
)
from jukicard.errors import BadResponse, UsageError

VALID_MY_NUMBER = "123456789018"


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return (rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048))


def _ids(a: str, b: str) -> tuple[bytes, bytes]:
    return (
        a.encode().rjust(7, b"0") + b"\x08\x05" + b"001" + b"\x00" * 4,
        b.encode().rjust(7, b"0") + b"\x08\x05" + b"001" + b"\x00" * 4,
    )


# --------------------------------------------------------------------------- check digit
def test_check_digit_published_example() -> None:
    assert my_number_check_digit("12345678901") == 8
    assert is_valid_my_number(VALID_MY_NUMBER)


def test_check_digit_by_hand() -> None:
    # P1..P11 = 1,0,9,8,7,6,5,4,3,2,1 (from the right); Q = 2..7, 2..6
    # 1*2+0*3+9*4+8*5+7*6+6*7 + 5*2+4*3+3*4+2*5+1*6 = 212; 212 % 11 = 3 -> 11-3 = 8
    assert my_number_check_digit("00000000000") == 0  # r = 0 -> 0
    assert my_number_check_digit("00000000001") == 9  # P1=1, Q1=2 -> r=2 -> 9
    assert my_number_check_digit("00000100000") == 4  # P6=1, Q6=7 -> r=7 -> 4
    assert my_number_check_digit("10000000000") == 5  # P11=1, Q11=6 -> r=6 -> 5


def test_check_digit_r_one_gives_zero() -> None:
    # P1=6 (weight Q1 = 2) -> 12 -> r = 1 -> check digit 0
    assert my_number_check_digit("00000000006") == 0


@pytest.mark.parametrize(
    "bad", ["", "1234567890", "123456789012", "1234567890a", "１２３４５６７８９０１"]
)
def test_check_digit_rejects_bad_input(bad: str) -> None:
    with pytest.raises(UsageError):
        my_number_check_digit(bad)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_every_wrong_last_digit_is_invalid(first11: str) -> None:
    good = my_number_check_digit(first11)
    assert is_valid_my_number(first11 + str(good))
    for d in range(10):
        if d != good:
            assert not is_valid_my_number(first11 + str(d))


# --------------------------------------------------------------------------- My Number
GOLDEN_MY_NUMBER_EF = bytes.fromhex("FF100C" + VALID_MY_NUMBER.encode().hex() + "FFFF")


def test_my_number_golden() -> None:
    assert len(GOLDEN_MY_NUMBER_EF) == 17
    m = MyNumber.parse(GOLDEN_MY_NUMBER_EF)
    assert m.digits == VALID_MY_NUMBER
    assert bytes(m) == GOLDEN_MY_NUMBER_EF
    assert m.is_valid


def test_my_number_repr_masks_digits() -> None:
    m = MyNumber(VALID_MY_NUMBER)
    for text in (repr(m), str(m), f"{m}"):
        assert "1234" not in text and "9018" not in text


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("FF110C") + VALID_MY_NUMBER.encode() + b"\xff\xff",  # wrong tag
        bytes.fromhex("FF100B") + VALID_MY_NUMBER.encode()[:11] + b"\xff\xff",  # 11 digits
        bytes.fromhex("FF100C") + b"12345678901X" + b"\xff\xff",  # non-digit
        bytes.fromhex("FF100C") + b"123456789017" + b"\xff\xff",  # bad check digit
        bytes.fromhex("FF100C") + VALID_MY_NUMBER.encode() + b"\x00\xff",  # junk after
        bytes.fromhex("FF100C") + b"1234",  # truncated
        b"",
        b"\xff" * 17,
    ],
)
def test_my_number_malformed(data: bytes) -> None:
    with pytest.raises(BadResponse) as exc:
        MyNumber.parse(data)
    assert "1234" not in str(exc.value)


def test_my_number_check_digit_optional() -> None:
    ef = bytes.fromhex("FF100C") + b"123456789017" + b"\xff\xff"
    m = MyNumber.parse(ef, check_digit=False)
    assert not m.is_valid


# --------------------------------------------------------------------------- 基本4情報
def _golden_basic_info() -> bytes:
    """Built by hand from §8.3 (not with the encoder)."""
    name = b"ABC"  # DF22 at 16, 3+3 = 6 bytes
    addr = "東京".encode()  # 6 bytes: DF23 at 22, 3+6 = 9 bytes
    birth = b"19850715"  # DF24 at 31, 11 bytes
    sex = b"2"  # DF25 at 42, 4 bytes -> end 46
    content = (
        bytes.fromhex("DF2108 0010 0016 001F 002A")
        + bytes.fromhex("DF2203")
        + name
        + bytes.fromhex("DF2306")
        + addr
        + bytes.fromhex("DF2408")
        + birth
        + bytes.fromhex("DF2501")
        + sex
    )
    assert len(content) == 41
    return bytes.fromhex("FF20820029") + content


def test_basic_info_golden() -> None:
    tlv = _golden_basic_info()
    ef = tlv + b"\xff" * (256 - len(tlv))
    bi = BasicInfo.parse(ef)
    assert (bi.name, bi.address, bi.birth, bi.sex) == (
        "ABC",
        "東京",
        dt.date(1985, 7, 15),
        Sex.FEMALE,
    )
    assert bytes(bi) == ef  # encoder produces the 82-form header, offsets from 16, FF padding
    assert bi.raw == ef
    assert bi.tlv_bytes == tlv
    assert bi.hashed_range == tlv[16:]
    assert basic_info_hash_range(ef) == tlv[16:]


def test_basic_info_short_length_form() -> None:
    # Same items under a short-form header: the items start 2 bytes earlier.
    tlv = _golden_basic_info()
    content = bytearray(tlv[5:])
    content[3:11] = bytes.fromhex("000E 0014 001D 0028")
    short = bytes.fromhex("FF20") + bytes([len(content)]) + bytes(content)
    bi = BasicInfo.parse(short + b"\xff" * 10)
    assert bi.name == "ABC"
    assert bi.hashed_range == short[14:]
    # ... and the encoder writes the 82 form again
    assert bytes(bi)[:3] == bytes.fromhex("FF2082")


def test_basic_info_round_trip_japanese() -> None:
    bi = BasicInfo(
        "試験\u3000太郎", "東京都千代田区見本町1丁目2番3号", dt.date(1960, 2, 29), Sex.MALE
    )
    ef = bytes(bi)
    assert len(ef) == 256 and ef[:3] == bytes.fromhex("FF2082")
    assert ef[16:18] == bytes.fromhex("DF22")
    back = BasicInfo.parse(ef)
    assert back == bi
    assert "太郎" not in repr(back) and "東京" not in repr(back)


def _mutate(data: bytes, pos: int, value: int) -> bytes:
    b = bytearray(data)
    b[pos] = value
    return bytes(b)


@pytest.mark.parametrize(
    "mutation",
    [
        lambda g: _mutate(g, 9, 0x11),  # first offset points 1 byte off
        lambda g: _mutate(g, 15, 0x2B),  # last offset off
        lambda g: _mutate(g, 0, 0xFE),  # container tag
        lambda g: _mutate(g, 16 + 3, 0xFF),  # name not UTF-8
        lambda g: _mutate(g, 31 + 3 + 4, ord("3")),  # month 13... "19853715"
        lambda g: _mutate(g, 31 + 3, ord("x")),  # birth not digits
        lambda g: _mutate(g, 42 + 3, ord("3")),  # sex code 3
        lambda g: _mutate(g, 4, 0x40),  # container longer than data
        lambda g: g[:30],  # truncated
        lambda g: _mutate(g, 5 + 2, 0x06),  # offset table 6 bytes
    ],
)
def test_basic_info_malformed(mutation) -> None:
    with pytest.raises(BadResponse) as exc:
        BasicInfo.parse(mutation(_golden_basic_info()))
    assert "ABC" not in str(exc.value)


def test_basic_info_too_big_for_ef() -> None:
    with pytest.raises(UsageError):
        bytes(BasicInfo("x" * 300, "y", dt.date(2000, 1, 1), Sex.NOT_APPLICABLE))


# --------------------------------------------------------------------------- CV certificate
def test_cv_certificate_shape_and_round_trip(keys) -> None:
    root, text = keys
    car, chr_ = _ids("9990000", "9990033")
    cv = CvCertificate.create(car, chr_, text.public_key(), root)
    raw = bytes(cv)
    assert len(raw) == 568
    assert raw[:10] == bytes.fromhex("7F218202335F4E820129")
    assert raw[10:26] == car and raw[26:42] == chr_
    assert raw[42:47] == bytes.fromhex("9003010001")
    assert raw[47:51] == bytes.fromhex("91820100")
    assert raw[307:312] == bytes.fromhex("5F37820100")
    back = CvCertificate.parse(raw + b"\xff" * 8)
    assert back == cv
    assert back.body == raw[10:307]
    assert back.public_key().public_numbers() == text.public_key().public_numbers()
    back.verify_issuer(root.public_key())
    assert not back.is_self_issued
    # independent check of the signature rule: PKCS#1 v1.5 SHA-256 over the 297-byte body
    root.public_key().verify(back.signature, raw[10:307], padding.PKCS1v15(), hashes.SHA256())


def test_cv_certificate_wrong_issuer_or_tampered(keys) -> None:
    root, text = keys
    car, chr_ = _ids("9990000", "9990033")
    raw = bytes(CvCertificate.create(car, chr_, text.public_key(), root))
    with pytest.raises(DataIntegrityError):
        CvCertificate.parse(raw).verify_issuer(text.public_key())
    tampered = _mutate(raw, 20, raw[20] ^ 1)  # inside the CAR
    with pytest.raises(DataIntegrityError):
        CvCertificate.parse(tampered).verify_issuer(root.public_key())


@pytest.mark.parametrize("cut", [0, 5, 12, 45, 300, 567])
def test_cv_certificate_truncated(keys, cut: int) -> None:
    root, text = keys
    raw = bytes(CvCertificate.create(*_ids("1", "2"), text.public_key(), root))
    with pytest.raises(BadResponse):
        CvCertificate.parse(raw[:cut])


def test_cv_certificate_rejects_even_modulus() -> None:
    body = b"A" * 16 + b"B" * 16 + bytes.fromhex("9003010001") + bytes.fromhex("9102") + b"\x01\x00"
    raw = (
        bytes.fromhex("7F21")
        + bytes([len(body) + 8])
        + bytes.fromhex("5F4E")
        + bytes([len(body)])
        + body
        + bytes.fromhex("5F3702")
        + b"\x00\x00"
    )
    with pytest.raises(BadResponse):
        CvCertificate.parse(raw)


# --------------------------------------------------------------------------- signature EF
@pytest.fixture(scope="module")
def text_ap(keys):
    root, text = keys
    cv = CvCertificate.parse(
        bytes(CvCertificate.create(*_ids("9990000", "9990033"), text.public_key(), root))
    )
    mn = bytes(MyNumber(VALID_MY_NUMBER))
    bi = bytes(
        BasicInfo("見本\u3000花子", "大阪府大阪市見本町1丁目", dt.date(1970, 1, 2), Sex.FEMALE)
    )
    sig = bytes(TextApSignature.create(mn, bi, text))
    return mn, bi, sig, cv


def test_signature_ef_shape(text_ap) -> None:
    mn, bi, sig, _cv = text_ap
    assert len(sig) == 336
    assert sig[:5] == bytes.fromhex("FF3082014B")
    assert sig[5:8] == bytes.fromhex("DF3120") and sig[8:40] == hashlib.sha256(mn).digest()
    assert sig[40:43] == bytes.fromhex("DF3220")
    assert sig[43:75] == hashlib.sha256(bi[16 : bi.index(b"\xff", 16)]).digest()
    assert sig[75:80] == bytes.fromhex("DF33820100")
    parsed = TextApSignature.parse(sig)
    assert parsed.signed_data == sig[5:75]
    assert bytes(parsed) == sig


def test_signature_ef_verifies(text_ap) -> None:
    mn, bi, sig, cv = text_ap
    TextApSignature.parse(sig).verify(mn, bi, cv)


def test_signature_ef_tampered_my_number(text_ap) -> None:
    mn, bi, sig, cv = text_ap
    other = bytes(MyNumber("000000000060"))
    with pytest.raises(DataIntegrityError):
        TextApSignature.parse(sig).verify(other, bi, cv)


def test_signature_ef_tampered_basic_info(text_ap) -> None:
    mn, bi, sig, cv = text_ap
    tampered = _mutate(bi, 20, bi[20] ^ 0x01)  # inside the name (still well-formed length)
    with pytest.raises((DataIntegrityError, BadResponse)):
        TextApSignature.parse(sig).verify(mn, tampered, cv)
    # padding after the TLV is not covered by the digest
    padded = bi[:-1] + b"\x00"
    TextApSignature.parse(sig).verify(mn, padded, cv)


def test_signature_ef_tampered_digest_or_signature(text_ap) -> None:
    mn, bi, sig, cv = text_ap
    for pos in (10, 50, 200):
        with pytest.raises(DataIntegrityError):
            TextApSignature.parse(_mutate(sig, pos, sig[pos] ^ 0x80)).verify(mn, bi, cv)


def test_signature_ef_wrong_cv_key(keys, text_ap) -> None:
    root, _text = keys
    mn, bi, sig, _cv = text_ap
    wrong_cv = CvCertificate.create(*_ids("1", "2"), root.public_key(), root)
    with pytest.raises(DataIntegrityError):
        TextApSignature.parse(sig).verify(mn, bi, wrong_cv)


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("FF30820005DF310100"),  # truncated/short digest
        bytes.fromhex("FF3004DF310100"),
        bytes.fromhex("FF31820000"),
        b"",
    ],
)
def test_signature_ef_malformed(data: bytes) -> None:
    with pytest.raises(BadResponse):
        TextApSignature.parse(data)


# --------------------------------------------------------------------------- AP basic info
def test_ap_basic_info_golden() -> None:
    key_id = b"5000033" + b"\x08\x05" + b"001" + b"\x00" * 4
    tlv = bytes.fromhex("FF4082001A DF410401000001 DF4210") + key_id
    ef = tlv.ljust(256, b"\xff")
    info = ApBasicInfo.parse(ef)
    assert info.ap_info == bytes.fromhex("01000001") and info.key_id == key_id
    assert bytes(info) == ef
    # short-form header parses too
    assert ApBasicInfo.parse(bytes.fromhex("FF401A") + tlv[5:]) == info


def test_ap_basic_info_bad_sizes() -> None:
    with pytest.raises(BadResponse):
        ApBasicInfo.parse(bytes.fromhex("FF400ADF410201 02DF420400000000"))


# --------------------------------------------------------------------------- token
@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"JPKIAPICCTOKEN2".ljust(32, b" "), TokenKind.MYNUMBER_CARD),
        (b"JPKIAPICCTOKEN2".ljust(32, b"\x00"), TokenKind.MYNUMBER_CARD),
        (b"JPKIAPICCTOKEN2".ljust(20, b" "), TokenKind.MYNUMBER_CARD),  # TRET reads 20
        (b"JPKIAPICCTOKEN".ljust(32, b" "), TokenKind.JUKI_CARD),
        (b"JPKIAPGPSETOKEN".ljust(32, b"\x00"), TokenKind.SMARTPHONE),
        (b"SOMETHINGELSE".ljust(32, b" "), TokenKind.UNKNOWN),
    ],
)
def test_token(data: bytes, kind: TokenKind) -> None:
    t = TokenInfo.parse(data)
    assert t.kind is kind
    if len(data) == 32:
        assert bytes(t) == data


@pytest.mark.parametrize(
    "data", [b"", b" " * 32, b"\x00" * 32, "トークン".encode().ljust(32, b" ")]
)
def test_token_malformed(data: bytes) -> None:
    with pytest.raises(BadResponse):
        TokenInfo.parse(data)


# --------------------------------------------------------------------------- visual AP
def _visual(**kw) -> VisualEntries:
    base = dict(
        birth="19850715",
        sex=Sex.MALE,
        public_key=b"\x30\x03\x02\x01\x01",
        name_png=b"\x89PNG\r\n\x1a\nname",
        address_png=b"\x89PNG\r\n\x1a\naddr",
        photo=b"\x00\x00\x00\x0cjP  \r\n\x87\n" * 20,
        signature=b"\x5a" * 256,
        expiry="20350715",
        security_code_png=b"\x89PNG\r\n\x1a\ncode",
    )
    base.update(kw)
    return VisualEntries(**base)


def test_visual_entries_round_trip_and_offsets() -> None:
    ve = _visual()
    raw = bytes(ve)
    assert raw[:3] == bytes.fromhex("FF2082")
    back = VisualEntries.parse(raw)
    assert back == ve
    expected_tags = [0xDF22, 0xDF23, 0xDF24, 0xDF25, 0xDF26, 0xDF27, 0xDF28, 0xDF29, 0xDF2A]
    assert len(back.offsets) == 9
    for off, tag in zip(back.offsets, expected_tags, strict=False):
        assert int.from_bytes(raw[off : off + 2], "big") == tag
    assert "19850715" not in repr(back)


def test_visual_entries_any_order_and_optional_security_code() -> None:
    ve = _visual(security_code_png=None)
    raw = bytes(ve)
    assert VisualEntries.parse(raw).security_code_png is None
    # rebuild with DF29 before DF22
    items = raw[5 + 3 + 2 * 8 :]
    df29 = items.index(bytes.fromhex("DF2908"))
    reordered = items[df29:] + items[:df29]
    content = bytes.fromhex("DF2100") + reordered
    swapped = bytes.fromhex("FF2082") + len(content).to_bytes(2, "big") + content
    assert VisualEntries.parse(swapped) == ve


def test_visual_entries_missing_or_repeated() -> None:
    raw = bytes(_visual(security_code_png=None))
    content = raw[5:]
    missing = content[: content.index(bytes.fromhex("DF2908"))]
    with pytest.raises(BadResponse):
        VisualEntries.parse(bytes.fromhex("FF2082") + len(missing).to_bytes(2, "big") + missing)
    repeated = content + bytes.fromhex("DF230132")
    with pytest.raises(BadResponse):
        VisualEntries.parse(bytes.fromhex("FF2082") + len(repeated).to_bytes(2, "big") + repeated)


def test_visual_birth_round_trip() -> None:
    vb = VisualBirth("19850715", b"\x01" * 10, b"\x02" * 256)
    raw = bytes(vb)
    assert raw[:2] == bytes.fromhex("FF10")
    assert VisualBirth.parse(raw) == vb
    assert raw.find(vb.signed_part()) > 0


# --------------------------------------------------------------------------- common DF
def test_common_card_id() -> None:
    rec = bytes.fromhex("040F0000") + b"TC12345678901"
    cid = CommonCardId.parse(rec)
    assert cid.number == "TC12345678901"
    assert bytes(cid) == rec
    # MYNA reads the manufacture number as value[2:15]
    assert rec[2:][2:15].decode() == cid.number
    with pytest.raises(BadResponse):
        CommonCardId.parse(bytes.fromhex("040100"))


# --------------------------------------------------------------------------- fuzz
PARSERS = [
    MyNumber.parse,
    BasicInfo.parse,
    TextApSignature.parse,
    CvCertificate.parse,
    ApBasicInfo.parse,
    TokenInfo.parse,
    VisualEntries.parse,
    VisualBirth.parse,
    CommonCardId.parse,
    basic_info_hash_range,
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.sampled_from(PARSERS))
def test_parsers_raise_only_bad_response(data: bytes, parser) -> None:
    try:
        parser(data)
    except BadResponse:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 45), st.integers(0, 255))
def test_basic_info_mutations_raise_only_bad_response(pos: int, value: int) -> None:
    try:
        BasicInfo.parse(_mutate(_golden_basic_info(), pos, value))
    except BadResponse:
        pass


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=100, deadline=None)
@given(
    _TEXT, _TEXT, st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)), st.sampled_from(list(Sex))
)
def test_basic_info_round_trip_property(name: str, address: str, birth: dt.date, sex: Sex) -> None:
    bi = BasicInfo(name, address, birth, sex)
    try:
        ef = bytes(bi)
    except UsageError:
        return  # does not fit 256 bytes
    assert BasicInfo.parse(ef) == bi
