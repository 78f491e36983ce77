"""Pure data objects for the elementary files of the JPKI, text (券面事項入力補助) and visual
(券面事項確認) applications.

Every class is a frozen dataclass with one way in (:meth:`parse`, from the bytes read off the
card) and one way out (``bytes(obj)``, the bytes the card would hold, used by the vector
generator to build emulator profiles).  Parsers are lenient where real cards differ (BER
length forms, padding) and strict where a wrong value would be accepted silently (offset
tables, check digits, digest sizes).  Malformed input raises :class:`~jukicard.errors.BadResponse`
and the message never contains the data itself: these EFs hold personal data.

Layouts follow ``card-interface.md`` §3 and §8.  Containers use private constructed tags in
high-tag-number form (``FF 10``, ``FF 20`` ...), leaves ``DF nn``.

NOTE: the positions of the TLVs matter (the 基本4情報 offset table is absolute from the start
of the EF, and the text-AP signature covers exact byte ranges), so this module walks the EFs
with a small position-aware reader built on :mod:`jukicard.apdu.tlv` tag/length codecs.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jukicard.apdu.tlv import decode_length, decode_tag, encode_length, encode_tag
from jukicard.errors import BadResponse, DataIntegrityError, TlvError, UsageError

__all__ = [
    "DataIntegrityError",
    "TokenKind",
    "TokenInfo",
    "my_number_check_digit",
    "is_valid_my_number",
    "MyNumber",
    "Sex",
    "BasicInfo",
    "basic_info_hash_range",
    "TextApSignature",
    "CvCertificate",
    "ApBasicInfo",
    "VisualBirth",
    "VisualEntries",
    "CommonCardId",
    "MY_NUMBER_EF_SIZE",
    "BASIC_INFO_EF_SIZE",
    "AP_BASIC_INFO_EF_SIZE",
    "TOKEN_EF_SIZE",
]

log = logging.getLogger(__name__)

MY_NUMBER_EF_SIZE = 17
BASIC_INFO_EF_SIZE = 256
AP_BASIC_INFO_EF_SIZE = 256
TOKEN_EF_SIZE = 32
CV_ID_LEN = 16


# --------------------------------------------------------------------------- BER helpers
@dataclass(frozen=True)
class _Tlv:
    """One BER TLV located inside a buffer (absolute offsets)."""

    tag: int
    start: int  # offset of the first tag byte
    value_start: int
    end: int  # offset just after the value

    def value(self, buf: bytes) -> bytes:
        return buf[self.value_start : self.end]


def _read_tlv(buf: bytes, pos: int, what: str) -> _Tlv:
    """Read one BER TLV at ``pos`` (lenient lengths: short, 81..84, non-minimal).

    :raises BadResponse: truncated data, indefinite length or an over-long tag.
    """
    try:
        tag, vpos = decode_tag(buf, pos)
        length, vpos = decode_length(buf, vpos)
    except TlvError as exc:
        raise BadResponse(f"{what}: malformed TLV ({exc})") from None
    end = vpos + length
    if end > len(buf):
        raise BadResponse(f"{what}: value truncated")
    return _Tlv(tag, pos, vpos, end)


def _children(buf: bytes, start: int, end: int, what: str) -> list[_Tlv]:
    """All TLVs between ``start`` and ``end`` (which must be covered exactly)."""
    out: list[_Tlv] = []
    pos = start
    while pos < end:
        t = _read_tlv(buf[:end], pos, what)
        out.append(t)
        pos = t.end
    return out


def _container(data: bytes, tag: int, what: str,
               layout: Sequence[int] | None = None) -> list[_Tlv]:
    """The children of the constructed TLV ``tag`` that starts ``data``.

    :param layout: when given, the exact tags the children must have, in order.
    :raises BadResponse: another outer tag, or (with ``layout``) other children.
    """
    outer = _read_tlv(data, 0, what)
    if outer.tag != tag:
        raise BadResponse(f"{what}: unexpected tag")
    kids = _children(data, outer.value_start, outer.end, what)
    if layout is not None and [k.tag for k in kids] != list(layout):
        raise BadResponse(f"{what}: unexpected layout")
    return kids


def _len_bytes(n: int, *, long_form: bool = False) -> bytes:
    """BER length; ``long_form`` forces the ``82 hh ll`` form (``83`` if needed)."""
    try:
        if long_form:
            return encode_length(n, 2 if n < 0x10000 else 3)
        return encode_length(n)
    except TlvError:
        raise UsageError("value too long for a card EF") from None


def _tlv(tag: int, value: bytes, *, long_form: bool = False) -> bytes:
    return encode_tag(tag) + _len_bytes(len(value), long_form=long_form) + value


def _ascii(value: bytes, what: str, *, digits: bool = False) -> str:
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        raise BadResponse(f"{what}: not ASCII") from None
    if digits and not (text.isdigit() and text.isascii()):
        raise BadResponse(f"{what}: not all digits")
    if not text.isprintable():
        raise BadResponse(f"{what}: not printable")
    return text


def _utf8(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise BadResponse(f"{what}: not valid UTF-8") from None


def _date8(value: bytes, what: str) -> _dt.date:
    text = _ascii(value, what, digits=True)
    if len(text) != 8:
        raise BadResponse(f"{what}: date must be 8 digits")
    try:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise BadResponse(f"{what}: not a calendar date") from None


def _rsa_verify(pub: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    try:
        pub.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _rsa_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


# --------------------------------------------------------------------------- JPKI token
class TokenKind(enum.Enum):
    """What kind of JPKI holder the token EF (JPKI ``0006``) announces."""

    MYNUMBER_CARD = "JPKIAPICCTOKEN2"
    JUKI_CARD = "JPKIAPICCTOKEN"
    SMARTPHONE = "JPKIAPGPSETOKEN"
    UNKNOWN = ""


@dataclass(frozen=True)
class TokenInfo:
    """JPKI token EF ``0006``: an ASCII token padded to 32 bytes.

    :ivar token: the token without padding (e.g. ``"JPKIAPICCTOKEN2"``).
    :ivar pad: the padding byte used by :meth:`__bytes__` (space; some fixtures use NUL).
    """

    token: str
    pad: bytes = field(default=b" ", compare=False)

    @classmethod
    def parse(cls, data: bytes) -> TokenInfo:
        """Parse the token EF (any read length; clients read 20 or 32 bytes).

        :param data: bytes read from EF ``0006``.
        :raises BadResponse: empty or non-printable token.
        """
        stripped = bytes(data).rstrip(b" \x00")
        if not stripped:
            raise BadResponse("token EF is empty")
        token = _ascii(stripped, "token EF")
        pad = data[len(stripped) : len(stripped) + 1] or b" "
        return cls(token, pad)

    @property
    def kind(self) -> TokenKind:
        """The holder kind; :attr:`TokenKind.UNKNOWN` for any other token."""
        for kind in TokenKind:
            if kind is not TokenKind.UNKNOWN and kind.value == self.token:
                return kind
        return TokenKind.UNKNOWN

    def __bytes__(self) -> bytes:
        raw = self.token.encode("ascii")
        if len(raw) > TOKEN_EF_SIZE or len(self.pad) != 1:
            raise UsageError("token too long or bad padding byte")
        return raw.ljust(TOKEN_EF_SIZE, self.pad)


# --------------------------------------------------------------------------- My Number
def my_number_check_digit(first11: str) -> int:
    """Check digit of a 12-digit 個人番号 from its first 11 digits.

    P1..P11 are the digits counted from the right, Qn = n+1 (n ≤ 6) or n−5 (n ≥ 7);
    r = ΣPn·Qn mod 11; the check digit is 0 if r ≤ 1, else 11 − r.

    :param first11: exactly 11 ASCII digits.
    :raises UsageError: not 11 digits.
    """
    if len(first11) != 11 or not (first11.isascii() and first11.isdigit()):
        raise UsageError("need exactly 11 digits")
    total = 0
    for n, ch in enumerate(reversed(first11), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += int(ch) * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


def is_valid_my_number(digits: str) -> bool:
    """True if ``digits`` is 12 ASCII digits with a correct check digit."""
    if len(digits) != 12 or not (digits.isascii() and digits.isdigit()):
        return False
    return my_number_check_digit(digits[:11]) == int(digits[11])


@dataclass(frozen=True, repr=False)
class MyNumber:
    """Text-AP EF ``0001``: ``FF 10 0C`` + 12 ASCII digits + ``FF FF`` (17 bytes).

    ``repr()`` masks the digits; use :attr:`digits` deliberately.
    """

    digits: str

    def __post_init__(self) -> None:
        if len(self.digits) != 12 or not (self.digits.isascii() and self.digits.isdigit()):
            raise UsageError("My Number must be 12 ASCII digits")

    @classmethod
    def parse(cls, data: bytes, *, check_digit: bool = True) -> MyNumber:
        """Parse the My Number EF.

        :param data: the EF as read (17 bytes; trailing ``FF`` padding is allowed).
        :param check_digit: also verify the check digit (default).
        :raises BadResponse: wrong structure, non-digits, bad check digit.
        """
        data = bytes(data)
        t = _read_tlv(data, 0, "My Number EF")
        if t.tag != 0xFF10:
            raise BadResponse("My Number EF: unexpected tag")
        value = t.value(data)
        if len(value) != 12:
            raise BadResponse("My Number EF: value is not 12 bytes")
        if data[t.end :].strip(b"\xff"):
            raise BadResponse("My Number EF: unexpected bytes after the TLV")
        digits = _ascii(value, "My Number EF", digits=True)
        if check_digit and not is_valid_my_number(digits):
            raise BadResponse("My Number EF: check digit mismatch")
        return cls(digits)

    @property
    def is_valid(self) -> bool:
        """True if the check digit is correct."""
        return is_valid_my_number(self.digits)

    def __bytes__(self) -> bytes:
        return _tlv(0xFF10, self.digits.encode("ascii")).ljust(MY_NUMBER_EF_SIZE, b"\xff")

    def __repr__(self) -> str:
        return "MyNumber(digits='************')"

    __str__ = __repr__


# --------------------------------------------------------------------------- 基本4情報
class Sex(enum.Enum):
    """Sex code of the 基本4情報 and the visual AP (ASCII digit on the card)."""

    MALE = 1
    FEMALE = 2
    NOT_APPLICABLE = 9

    @classmethod
    def parse(cls, value: bytes, what: str = "sex") -> Sex:
        """:raises BadResponse: not ``'1'``, ``'2'`` or ``'9'``."""
        if value not in (b"1", b"2", b"9"):
            raise BadResponse(f"{what}: unknown code")
        return cls(int(value))

    def __bytes__(self) -> bytes:
        return str(self.value).encode("ascii")


_BI_TAGS = (0xDF22, 0xDF23, 0xDF24, 0xDF25)


def _basic_info_layout(data: bytes) -> tuple[_Tlv, _Tlv, list[_Tlv]]:
    """(FF 20 container, DF 21 offsets TLV, [DF22, DF23, DF24, DF25]) with offsets checked."""
    outer = _read_tlv(data, 0, "basic info EF")
    if outer.tag != 0xFF20:
        raise BadResponse("basic info EF: unexpected container tag")
    kids = _children(data, outer.value_start, outer.end, "basic info EF")
    if len(kids) != 5 or kids[0].tag != 0xDF21 or tuple(k.tag for k in kids[1:]) != _BI_TAGS:
        raise BadResponse("basic info EF: unexpected item layout")
    offs_raw = kids[0].value(data)
    if len(offs_raw) != 8:
        raise BadResponse("basic info EF: offset table is not 8 bytes")
    offsets = [int.from_bytes(offs_raw[i : i + 2], "big") for i in range(0, 8, 2)]
    if offsets != [k.start for k in kids[1:]]:
        raise BadResponse("basic info EF: offset table does not match the item positions")
    return outer, kids[0], kids[1:]


def basic_info_hash_range(basic_info_ef: bytes) -> bytes:
    """The bytes hashed into the text-AP signature EF: from the ``DF 22`` tag to the end
    of the ``FF 20`` TLV.

    :param basic_info_ef: the 基本4情報 EF as read (padding allowed).
    :raises BadResponse: malformed EF.
    """
    data = bytes(basic_info_ef)
    outer, _offs, items = _basic_info_layout(data)
    return data[items[0].start : outer.end]


@dataclass(frozen=True, repr=False)
class BasicInfo:
    """Text-AP EF ``0002`` (基本4情報): name, address, birth date, sex.

    :ivar raw: the exact EF bytes this object was parsed from (empty if built in code);
        hashing needs the bytes as read, see :attr:`hashed_range`.
    :ivar ef_size: EF size used by :meth:`__bytes__` for ``FF`` padding.
    """

    name: str
    address: str
    birth: _dt.date
    sex: Sex
    raw: bytes = field(default=b"", compare=False)
    ef_size: int = field(default=BASIC_INFO_EF_SIZE, compare=False)

    @classmethod
    def parse(cls, data: bytes) -> BasicInfo:
        """Parse the 基本4情報 EF.

        :param data: the EF as read (trailing padding allowed).
        :raises BadResponse: wrong structure, offsets that do not match the item
            positions, invalid UTF-8, invalid date or sex code.
        """
        data = bytes(data)
        _outer, _offs, (n, a, b, s) = _basic_info_layout(data)
        birth_raw = b.value(data)
        if len(birth_raw) != 8:
            raise BadResponse("basic info EF: birth date is not 8 bytes")
        return cls(
            name=_utf8(n.value(data), "basic info name"),
            address=_utf8(a.value(data), "basic info address"),
            birth=_date8(birth_raw, "basic info birth"),
            sex=Sex.parse(s.value(data), "basic info sex"),
            raw=data,
            ef_size=max(len(data), BASIC_INFO_EF_SIZE),
        )

    def encode_tlv(self) -> bytes:
        """The ``FF 20`` TLV without padding, with the ``82``-form header of real cards."""
        items = [
            _tlv(0xDF22, self.name.encode("utf-8")),
            _tlv(0xDF23, self.address.encode("utf-8")),
            _tlv(0xDF24, self.birth.strftime("%Y%m%d").encode("ascii")),
            _tlv(0xDF25, bytes(self.sex)),
        ]
        pos = 5 + 3 + 8  # FF 20 82 hh ll | DF 21 08 | 8 offset bytes
        offsets = b""
        for item in items:
            offsets += pos.to_bytes(2, "big")
            pos += len(item)
        content = _tlv(0xDF21, offsets) + b"".join(items)
        return _tlv(0xFF20, content, long_form=True)

    def __bytes__(self) -> bytes:
        body = self.encode_tlv()
        if len(body) > self.ef_size:
            raise UsageError("basic info does not fit the EF")
        return body.ljust(self.ef_size, b"\xff")

    @property
    def ef_bytes(self) -> bytes:
        """The EF as read if parsed, else as encoded."""
        return self.raw or bytes(self)

    @property
    def tlv_bytes(self) -> bytes:
        """The ``FF 20`` TLV (EF without padding)."""
        data = self.ef_bytes
        return data[: _read_tlv(data, 0, "basic info EF").end]

    @property
    def hashed_range(self) -> bytes:
        """Bytes covered by the ``DF 32`` digest of the signature EF."""
        return basic_info_hash_range(self.ef_bytes)

    def __repr__(self) -> str:
        return "BasicInfo(<personal data masked>)"

    __str__ = __repr__


# --------------------------------------------------------------------------- CV certificate
@dataclass(frozen=True)
class CvCertificate:
    """Card-verifiable certificate of a text/visual-AP data-signing key (EF ``0004``).

    ``7F 21 { 5F 4E { CAR(16) CHR(16) 90 <e> 91 <n> } 5F 37 <signature> }``; the signature is
    RSA PKCS#1 v1.5 SHA-256 over the ``5F 4E`` value.

    :ivar car: certification authority reference (issuer key id, 16 bytes).
    :ivar chr: certificate holder reference (this key's id, 16 bytes).
    """

    car: bytes
    chr: bytes
    exponent: int
    modulus: int
    signature: bytes
    tbs: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def parse(cls, data: bytes) -> CvCertificate:
        """Parse a CV certificate EF (trailing padding allowed).

        :raises BadResponse: malformed structure or key numbers.
        """
        data = bytes(data)
        kids = _container(data, 0x7F21, "CV certificate", (0x5F4E, 0x5F37))
        body = kids[0].value(data)
        if len(body) < 2 * CV_ID_LEN + 4:
            raise BadResponse("CV certificate: body too short")
        parts = _children(body, 2 * CV_ID_LEN, len(body), "CV certificate key")
        if len(parts) != 2 or parts[0].tag != 0x90 or parts[1].tag != 0x91:
            raise BadResponse("CV certificate: unexpected key layout")
        e = int.from_bytes(parts[0].value(body), "big")
        n = int.from_bytes(parts[1].value(body), "big")
        if e < 3 or e % 2 == 0 or n < 3 or n % 2 == 0:
            raise BadResponse("CV certificate: implausible RSA key")
        return cls(
            car=body[:CV_ID_LEN],
            chr=body[CV_ID_LEN : 2 * CV_ID_LEN],
            exponent=e,
            modulus=n,
            signature=kids[1].value(data),
            tbs=body,
        )

    @classmethod
    def create(
        cls,
        car: bytes,
        chr: bytes,
        public_key: rsa.RSAPublicKey,
        issuer_key: rsa.RSAPrivateKey,
    ) -> CvCertificate:
        """Build and sign a CV certificate (test vectors).

        :param car: issuer id (16 bytes).
        :param chr: holder id (16 bytes).
        :param public_key: the certified key.
        :param issuer_key: the issuer's private key.
        :raises UsageError: ids not 16 bytes.
        """
        if len(car) != CV_ID_LEN or len(chr) != CV_ID_LEN:
            raise UsageError("CAR and CHR must be 16 bytes")
        nums = public_key.public_numbers()
        unsigned = cls(car, chr, nums.e, nums.n, b"")
        body = unsigned.body
        return cls(car, chr, nums.e, nums.n, _rsa_sign(issuer_key, body), body)

    @property
    def body(self) -> bytes:
        """The signed ``5F 4E`` value (as read if parsed)."""
        if self.tbs:
            return self.tbs
        e = self.exponent.to_bytes(max(1, (self.exponent.bit_length() + 7) // 8), "big")
        n = self.modulus.to_bytes((self.modulus.bit_length() + 7) // 8, "big")
        return self.car + self.chr + _tlv(0x90, e) + _tlv(0x91, n, long_form=True)

    @property
    def is_self_issued(self) -> bool:
        """True if CAR == CHR."""
        return self.car == self.chr

    def public_key(self) -> rsa.RSAPublicKey:
        """The certified RSA public key.

        :raises BadResponse: numbers that do not form an RSA key.
        """
        try:
            return rsa.RSAPublicNumbers(self.exponent, self.modulus).public_key()
        except ValueError:
            raise BadResponse("CV certificate: invalid RSA public key") from None

    def verify_issuer(self, issuer_public_key: rsa.RSAPublicKey) -> None:
        """Check this certificate's signature with the issuer's key.

        :raises DataIntegrityError: the signature does not verify.
        """
        if not _rsa_verify(issuer_public_key, self.signature, self.body):
            raise DataIntegrityError("CV certificate signature does not verify")

    def __bytes__(self) -> bytes:
        return _tlv(
            0x7F21,
            _tlv(0x5F4E, self.body, long_form=True) + _tlv(0x5F37, self.signature, long_form=True),
            long_form=True,
        )


# --------------------------------------------------------------------------- signature EF
@dataclass(frozen=True)
class TextApSignature:
    """Text-AP EF ``0003`` (336 bytes): digests of the My Number and 基本4情報 EFs and an
    RSA signature over ``DF31-TLV ‖ DF32-TLV``.
    """

    my_number_digest: bytes
    basic_info_digest: bytes
    signature: bytes
    signed_bytes: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def parse(cls, data: bytes) -> TextApSignature:
        """Parse the signature EF.

        :raises BadResponse: malformed structure or digests not 32 bytes.
        """
        data = bytes(data)
        kids = _container(data, 0xFF30, "signature EF", (0xDF31, 0xDF32, 0xDF33))
        d1, d2, sig = (k.value(data) for k in kids)
        if len(d1) != 32 or len(d2) != 32:
            raise BadResponse("signature EF: digests must be 32 bytes")
        if not sig:
            raise BadResponse("signature EF: empty signature")
        return cls(d1, d2, sig, data[kids[0].start : kids[1].end])

    @classmethod
    def create(
        cls, my_number_ef: bytes, basic_info_ef: bytes, signing_key: rsa.RSAPrivateKey
    ) -> TextApSignature:
        """Build a signature EF for the given EFs (test vectors).

        :param my_number_ef: the 17-byte My Number EF.
        :param basic_info_ef: the 基本4情報 EF.
        :param signing_key: the text-AP data-signing key.
        """
        d1 = hashlib.sha256(bytes(my_number_ef)).digest()
        d2 = hashlib.sha256(basic_info_hash_range(basic_info_ef)).digest()
        unsigned = cls(d1, d2, b"\x00")
        signed = unsigned.signed_data
        return cls(d1, d2, _rsa_sign(signing_key, signed), signed)

    @property
    def signed_data(self) -> bytes:
        """The 70 signed bytes ``DF 31 20 <d1> DF 32 20 <d2>`` (as read if parsed)."""
        return self.signed_bytes or (
            _tlv(0xDF31, self.my_number_digest) + _tlv(0xDF32, self.basic_info_digest)
        )

    def verify(self, my_number_ef: bytes, basic_info_ef: bytes, cv_cert: CvCertificate) -> None:
        """Check the signature with the CV certificate's key, then both digests.

        NOTE: this does not check the CV certificate itself; call
        :meth:`CvCertificate.verify_issuer` with the trusted issuer key for that.

        :param my_number_ef: the My Number EF exactly as read (17 bytes).
        :param basic_info_ef: the 基本4情報 EF as read.
        :param cv_cert: the text-AP CV certificate (EF ``0004``).
        :raises DataIntegrityError: bad signature or a digest mismatch.
        :raises BadResponse: a malformed EF or CV certificate.
        """
        if not _rsa_verify(cv_cert.public_key(), self.signature, self.signed_data):
            raise DataIntegrityError("text-AP signature does not verify")
        d1 = hashlib.sha256(bytes(my_number_ef)).digest()
        if not hmac.compare_digest(d1, self.my_number_digest):
            raise DataIntegrityError("My Number EF does not match its signed digest")
        d2 = hashlib.sha256(basic_info_hash_range(basic_info_ef)).digest()
        if not hmac.compare_digest(d2, self.basic_info_digest):
            raise DataIntegrityError("basic info EF does not match its signed digest")

    def __bytes__(self) -> bytes:
        content = self.signed_data + _tlv(0xDF33, self.signature, long_form=True)
        return _tlv(0xFF30, content, long_form=True)


# --------------------------------------------------------------------------- AP basic info
@dataclass(frozen=True)
class ApBasicInfo:
    """Text-AP EF ``0005``: ``FF 40 { DF 41 <4-byte AP info> DF 42 <16-byte key id> }``,
    ``FF``-padded to 256 bytes.
    """

    ap_info: bytes
    key_id: bytes

    @classmethod
    def parse(cls, data: bytes) -> ApBasicInfo:
        """:raises BadResponse: malformed structure or wrong item sizes."""
        data = bytes(data)
        kids = _container(data, 0xFF40, "AP basic info EF", (0xDF41, 0xDF42))
        info, key_id = (k.value(data) for k in kids)
        if len(info) != 4 or len(key_id) != 16:
            raise BadResponse("AP basic info EF: unexpected item sizes")
        return cls(info, key_id)

    def __bytes__(self) -> bytes:
        body = _tlv(0xFF40, _tlv(0xDF41, self.ap_info) + _tlv(0xDF42, self.key_id), long_form=True)
        return body.ljust(AP_BASIC_INFO_EF_SIZE, b"\xff")


# --------------------------------------------------------------------------- visual AP
@dataclass(frozen=True, repr=False)
class VisualBirth:
    """Visual-AP EF ``0001``: ``FF 10 { DF 11 birth, DF 12 public key, DF 13 signature }``.

    NOTE: layout from one public source (AOKI); the birth format is taken as 8 ASCII digits.
    """

    birth: str
    public_key: bytes
    signature: bytes

    @classmethod
    def parse(cls, data: bytes) -> VisualBirth:
        """:raises BadResponse: malformed structure."""
        data = bytes(data)
        kids = _container(data, 0xFF10, "visual birth EF", (0xDF11, 0xDF12, 0xDF13))
        birth, pub, sig = (k.value(data) for k in kids)
        return cls(_ascii(birth, "visual birth", digits=True), pub, sig)

    def signed_part(self) -> bytes:
        """``DF 11`` TLV ‖ ``DF 12`` TLV (what our test card signs)."""
        return _tlv(0xDF11, self.birth.encode("ascii")) + _tlv(
            0xDF12, self.public_key, long_form=True
        )

    def __bytes__(self) -> bytes:
        content = self.signed_part() + _tlv(0xDF13, self.signature, long_form=True)
        return _tlv(0xFF10, content, long_form=True)

    def __repr__(self) -> str:
        return "VisualBirth(<personal data masked>)"


_VISUAL_FIELDS: tuple[tuple[int, str], ...] = (
    (0xDF22, "birth"),
    (0xDF23, "sex"),
    (0xDF24, "public_key"),
    (0xDF25, "name_png"),
    (0xDF26, "address_png"),
    (0xDF27, "photo"),
    (0xDF28, "signature"),
    (0xDF29, "expiry"),
    (0xDF2A, "security_code_png"),
)


@dataclass(frozen=True, repr=False)
class VisualEntries:
    """Visual-AP EF ``0002`` (券面事項): ``FF 20 { DF 21 offsets, DF 22 birth, DF 23 sex,
    DF 24 public key, DF 25 name PNG, DF 26 address PNG, DF 27 photo JPEG 2000,
    DF 28 signature, DF 29 expiry, DF 2A security-code PNG }``.

    :ivar offsets: the ``DF 21`` table as 16-bit values.  Its meaning is not public; our
        encoder writes the absolute start offset of each following item (jukicard choice)
        and the parser does not check it.
    :ivar security_code_png: ``None`` if the card has no ``DF 2A``.
    """

    birth: str
    sex: Sex
    public_key: bytes
    name_png: bytes
    address_png: bytes
    photo: bytes
    signature: bytes
    expiry: str
    security_code_png: bytes | None = None
    offsets: tuple[int, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, data: bytes) -> VisualEntries:
        """Parse the entries EF (items in any order; unknown items are ignored).

        :raises BadResponse: malformed structure, a missing or repeated item.
        """
        data = bytes(data)
        kids = _container(data, 0xFF20, "visual entries EF")
        found: dict[int, bytes] = {}
        for k in kids:
            if k.tag in found:
                raise BadResponse("visual entries EF: repeated item")
            found[k.tag] = k.value(data)
        names = dict(_VISUAL_FIELDS)
        missing = [t for t in (0xDF21, *names) if t not in found and t != 0xDF2A]
        if missing:
            raise BadResponse("visual entries EF: missing items")
        offs = found[0xDF21]
        if len(offs) % 2:
            raise BadResponse("visual entries EF: odd offset table")
        return cls(
            birth=_ascii(found[0xDF22], "visual birth", digits=True),
            sex=Sex.parse(found[0xDF23], "visual sex"),
            public_key=found[0xDF24],
            name_png=found[0xDF25],
            address_png=found[0xDF26],
            photo=found[0xDF27],
            signature=found[0xDF28],
            expiry=_ascii(found[0xDF29], "visual expiry"),
            security_code_png=found.get(0xDF2A),
            offsets=tuple(int.from_bytes(offs[i : i + 2], "big") for i in range(0, len(offs), 2)),
        )

    def _items(self) -> list[bytes]:
        values: dict[str, bytes | None] = {
            "birth": self.birth.encode("ascii"),
            "sex": bytes(self.sex),
            "public_key": self.public_key,
            "name_png": self.name_png,
            "address_png": self.address_png,
            "photo": self.photo,
            "signature": self.signature,
            "expiry": self.expiry.encode("ascii"),
            "security_code_png": self.security_code_png,
        }
        out = []
        for tag, name in _VISUAL_FIELDS:
            value = values[name]
            if value is not None:
                out.append(_tlv(tag, value, long_form=len(value) >= 0x80))
        return out

    def signed_part(self) -> bytes:
        """Items ``DF 22`` .. ``DF 27`` as encoded: what our test card's ``DF 28`` signs.

        NOTE: the real ``DF 28`` rule is not public; this is a jukicard test rule.
        """
        return b"".join(self._items()[:6])

    def __bytes__(self) -> bytes:
        items = self._items()
        container_len = 3 + 2 * len(items) + sum(len(i) for i in items)
        header = 2 + len(_len_bytes(container_len, long_form=True))
        pos = header + 3 + 2 * len(items)
        offs = b""
        for item in items:
            offs += pos.to_bytes(2, "big")
            pos += len(item)
        return _tlv(0xFF20, _tlv(0xDF21, offs) + b"".join(items), long_form=True)

    def __repr__(self) -> str:
        return "VisualEntries(<personal data masked>)"


# --------------------------------------------------------------------------- common DF
@dataclass(frozen=True)
class CommonCardId:
    """Record 1 of EF ``0001`` in the common DF: one TLV whose value is 2 leading bytes
    followed by an ASCII card/manufacture number (no PIN needed).

    NOTE: the tag and the leading bytes are not documented; we keep them as read.
    """

    number: str
    prefix: bytes = b"\x00\x00"
    tag: int = 0x04

    @classmethod
    def parse(cls, record: bytes) -> CommonCardId:
        """:raises BadResponse: malformed record."""
        data = bytes(record)
        t = _read_tlv(data, 0, "card id record")
        value = t.value(data)
        if len(value) < 3:
            raise BadResponse("card id record: too short")
        return cls(_ascii(value[2:], "card id record"), value[:2], t.tag)

    def __bytes__(self) -> bytes:
        if len(self.prefix) != 2:
            raise UsageError("prefix must be 2 bytes")
        return _tlv(self.tag, self.prefix + self.number.encode("ascii"))
