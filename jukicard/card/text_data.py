"""Data objects of the 券面事項入力補助AP (text AP): My Number, 基本4情報, the signature EF,
the AP basic info, and the result of a signature-checked read.

Every class is a frozen dataclass with one way in (``parse``, from the bytes read off the
card) and one way out (``bytes(obj)``, the bytes the card would hold).  Layouts follow
``card-interface.md`` §3.2 and §8.2–8.6.  Objects holding personal data mask themselves in
``repr()``.

NOTE: positions matter — the 基本4情報 offset table is absolute from the start of the EF and
the signature EF covers exact byte ranges — so the parsers keep the TLVs exactly as read
(:class:`jukicard.apdu.tlv.Tlv` re-encodes to the bytes it was parsed from).
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu.tlv import Tlv
from jukicard.card.cardauth import DataAuthenticity
from jukicard.card.codec import (
    Sex,
    ascii_text,
    container,
    date8,
    ef_bytes,
    first_tlv,
    rsa_sign,
    rsa_verify,
    tlv,
    utf8_text,
)
from jukicard.card.cvc import CvCertificate
from jukicard.errors import BadResponse, DataIntegrityError, UsageError

__all__ = [
    "MY_NUMBER_EF_SIZE",
    "BASIC_INFO_EF_SIZE",
    "AP_BASIC_INFO_EF_SIZE",
    "my_number_check_digit",
    "is_valid_my_number",
    "MyNumber",
    "BasicInfo",
    "basic_info_hash_range",
    "TextApSignature",
    "ApBasicInfo",
    "SignatureCheck",
    "VerifiedTextData",
]

MY_NUMBER_EF_SIZE = 17
BASIC_INFO_EF_SIZE = 256
AP_BASIC_INFO_EF_SIZE = 256
_DIGEST_LEN = 32


# --------------------------------------------------------------------------- My Number
def _is_digits(value: object, n: int) -> bool:
    """True if ``value`` is a str of exactly ``n`` ASCII digits."""
    return isinstance(value, str) and len(value) == n and value.isascii() and value.isdigit()


def my_number_check_digit(first11: str) -> int:
    """Check digit of a 12-digit 個人番号 from its first 11 digits.

    P1..P11 are the digits counted from the right, Qn = n+1 (n ≤ 6) or n−5 (n ≥ 7);
    r = ΣPn·Qn mod 11; the check digit is 0 if r ≤ 1, else 11 − r.

    :param first11: exactly 11 ASCII digits.
    :raises UsageError: not 11 digits (or not a str).
    """
    if not _is_digits(first11, 11):
        raise UsageError("need exactly 11 digits")
    total = 0
    for n, ch in enumerate(reversed(first11), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += int(ch) * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


def is_valid_my_number(digits: str) -> bool:
    """True if ``digits`` is a str of 12 ASCII digits with a correct check digit."""
    if not _is_digits(digits, 12):
        return False
    return my_number_check_digit(digits[:11]) == int(digits[11])


@dataclass(frozen=True, repr=False)
class MyNumber:
    """Text-AP EF ``0001``: ``FF 10 0C`` + 12 ASCII digits + ``FF FF`` (17 bytes).

    ``repr()`` masks the digits; use :attr:`digits` deliberately.
    """

    digits: str

    def __post_init__(self) -> None:
        if not _is_digits(self.digits, 12):
            raise UsageError("My Number must be a str of 12 ASCII digits")

    @classmethod
    def parse(cls, data: bytes, *, check_digit: bool = True) -> MyNumber:
        """Parse the My Number EF.

        :param data: the EF as read (17 bytes; trailing ``FF`` padding is allowed).
        :param check_digit: also verify the check digit (default).
        :raises BadResponse: wrong structure, non-digits, bad check digit.
        """
        t, rest = first_tlv(data, "My Number EF")
        if t.tag != 0xFF10:
            raise BadResponse("My Number EF: unexpected tag")
        if len(t.value) != 12:
            raise BadResponse("My Number EF: value is not 12 bytes")
        if rest.strip(b"\xff"):
            raise BadResponse("My Number EF: unexpected bytes after the TLV")
        digits = ascii_text(t.value, "My Number EF", digits=True)
        if check_digit and not is_valid_my_number(digits):
            raise BadResponse("My Number EF: check digit mismatch")
        return cls(digits)

    @property
    def is_valid(self) -> bool:
        """True if the check digit is correct."""
        return is_valid_my_number(self.digits)

    def __bytes__(self) -> bytes:
        return tlv(0xFF10, self.digits.encode("ascii")).ljust(MY_NUMBER_EF_SIZE, b"\xff")

    def __repr__(self) -> str:
        return "MyNumber(digits='************')"

    __str__ = __repr__


# --------------------------------------------------------------------------- 基本4情報
_BI_TAGS = (0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25)
_BI = "basic info EF"


def _basic_info_layout(data: bytes) -> tuple[Tlv, list[tuple[int, Tlv]]]:
    """(FF 20 container, [DF21, DF22, DF23, DF24, DF25] with offsets) with the offset table
    checked against the item positions."""
    outer, kids = container(data, 0xFF20, _BI)
    if [k.tag for _pos, k in kids] != list(_BI_TAGS):
        raise BadResponse(f"{_BI}: unexpected item layout")
    offs_raw = kids[0][1].value
    if len(offs_raw) != 8:
        raise BadResponse(f"{_BI}: offset table is not 8 bytes")
    offsets = [int.from_bytes(offs_raw[i : i + 2], "big") for i in range(0, 8, 2)]
    if offsets != [pos for pos, _k in kids[1:]]:
        raise BadResponse(f"{_BI}: offset table does not match the item positions")
    return outer, kids


def basic_info_hash_range(basic_info_ef: bytes) -> bytes:
    """The bytes hashed into the text-AP signature EF: from the ``DF 22`` tag to the end
    of the ``FF 20`` TLV.

    :param basic_info_ef: the 基本4情報 EF as read (padding allowed).
    :raises UsageError: not bytes.
    :raises BadResponse: malformed EF.
    """
    _outer, kids = _basic_info_layout(ef_bytes(basic_info_ef, _BI))
    return b"".join(bytes(k) for _pos, k in kids[1:])


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
        :raises UsageError: ``data`` is not bytes.
        :raises BadResponse: wrong structure, offsets that do not match the item
            positions, invalid UTF-8, invalid date or sex code.
        """
        data = ef_bytes(data, _BI)
        _outer, kids = _basic_info_layout(data)
        n, a, b, s = (k.value for _pos, k in kids[1:])
        if len(b) != 8:
            raise BadResponse(f"{_BI}: birth date is not 8 bytes")
        return cls(
            name=utf8_text(n, "basic info name"),
            address=utf8_text(a, "basic info address"),
            birth=date8(b, "basic info birth"),
            sex=Sex.parse(s, "basic info sex"),
            raw=data,
            ef_size=max(len(data), BASIC_INFO_EF_SIZE),
        )

    def encode_tlv(self) -> bytes:
        """The ``FF 20`` TLV without padding, with the ``82``-form header of real cards."""
        items = [
            tlv(0xDF22, self.name.encode("utf-8")),
            tlv(0xDF23, self.address.encode("utf-8")),
            tlv(0xDF24, self.birth.strftime("%Y%m%d").encode("ascii")),
            tlv(0xDF25, bytes(self.sex)),
        ]
        pos = 5 + 3 + 8  # FF 20 82 hh ll | DF 21 08 | 8 offset bytes
        offsets = b""
        for item in items:
            offsets += pos.to_bytes(2, "big")
            pos += len(item)
        content = tlv(0xDF21, offsets) + b"".join(items)
        return tlv(0xFF20, content, long_form=True)

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
        t, _rest = first_tlv(self.ef_bytes, _BI)
        return bytes(t)

    @property
    def hashed_range(self) -> bytes:
        """Bytes covered by the ``DF 32`` digest of the signature EF."""
        return basic_info_hash_range(self.ef_bytes)

    def __repr__(self) -> str:
        return "BasicInfo(<personal data masked>)"

    __str__ = __repr__


# --------------------------------------------------------------------------- signature EF
@dataclass(frozen=True, repr=False)
class TextApSignature:
    """Text-AP EF ``0003`` (336 bytes): digests of the My Number and 基本4情報 EFs and an
    RSA signature over ``DF31-TLV ‖ DF32-TLV``.

    ``repr()`` hides the digests: a digest of a My Number can be brute-forced.
    """

    my_number_digest: bytes
    basic_info_digest: bytes
    signature: bytes
    signed_bytes: bytes = field(default=b"", compare=False)

    @classmethod
    def parse(cls, data: bytes) -> TextApSignature:
        """Parse the signature EF.

        :raises BadResponse: malformed structure or digests not 32 bytes.
        """
        _outer, kids = container(data, 0xFF30, "signature EF", (0xDF31, 0xDF32, 0xDF33))
        d1, d2, sig = (k for _pos, k in kids)
        if len(d1.value) != _DIGEST_LEN or len(d2.value) != _DIGEST_LEN:
            raise BadResponse("signature EF: digests must be 32 bytes")
        if not sig.value:
            raise BadResponse("signature EF: empty signature")
        return cls(d1.value, d2.value, sig.value, bytes(d1) + bytes(d2))

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
        signed = cls(d1, d2, b"\x00").signed_data
        return cls(d1, d2, rsa_sign(signing_key, signed), signed)

    @property
    def signed_data(self) -> bytes:
        """The 70 signed bytes ``DF 31 20 <d1> DF 32 20 <d2>`` (as read if parsed)."""
        return self.signed_bytes or (
            tlv(0xDF31, self.my_number_digest) + tlv(0xDF32, self.basic_info_digest)
        )

    def verify(self, my_number_ef: bytes, basic_info_ef: bytes, cv_cert: CvCertificate) -> None:
        """Check the signature with the CV certificate's key, then both digests over the
        raw EF bytes (nothing of their content is parsed before the digests match).

        NOTE: this does not check the CV certificate itself; call
        :meth:`CvCertificate.verify_issuer` with the trusted issuer key for that.

        :param my_number_ef: the My Number EF exactly as read (17 bytes).
        :param basic_info_ef: the 基本4情報 EF as read.
        :param cv_cert: the text-AP CV certificate (EF ``0004``).
        :raises UsageError: an EF that is not bytes, or ``cv_cert`` not a
            :class:`CvCertificate`.
        :raises DataIntegrityError: bad signature, a digest mismatch, or a 基本4情報 EF so
            damaged that the signed range cannot be found.
        """
        my_number_ef = ef_bytes(my_number_ef, "My Number EF")
        basic_info_ef = ef_bytes(basic_info_ef, _BI)
        if not isinstance(cv_cert, CvCertificate):
            raise UsageError(f"cv_cert must be a CvCertificate, got a {type(cv_cert).__name__}")
        try:
            key = cv_cert.public_key()
        except BadResponse as exc:
            raise DataIntegrityError("CV certificate EF: unusable public key") from exc
        if not rsa_verify(key, self.signature, self.signed_data):
            raise DataIntegrityError("text-AP signature does not verify")
        d1 = hashlib.sha256(bytes(my_number_ef)).digest()
        if not hmac.compare_digest(d1, self.my_number_digest):
            raise DataIntegrityError("My Number EF does not match its signed digest")
        try:
            hashed = basic_info_hash_range(basic_info_ef)
        except BadResponse as exc:
            raise DataIntegrityError("basic info EF does not match its signed digest "
                                     "(signed range not found)") from exc
        d2 = hashlib.sha256(hashed).digest()
        if not hmac.compare_digest(d2, self.basic_info_digest):
            raise DataIntegrityError("basic info EF does not match its signed digest")

    def __bytes__(self) -> bytes:
        content = self.signed_data + tlv(0xDF33, self.signature, long_form=True)
        return tlv(0xFF30, content, long_form=True)

    def __repr__(self) -> str:
        return f"TextApSignature(<2 digests>, signature=<{len(self.signature)} bytes>)"


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
        _outer, kids = container(data, 0xFF40, "AP basic info EF", (0xDF41, 0xDF42))
        info, key_id = (k.value for _pos, k in kids)
        if len(info) != 4 or len(key_id) != 16:
            raise BadResponse("AP basic info EF: unexpected item sizes")
        return cls(info, key_id)

    def __bytes__(self) -> bytes:
        body = tlv(0xFF40, tlv(0xDF41, self.ap_info) + tlv(0xDF42, self.key_id), long_form=True)
        return body.ljust(AP_BASIC_INFO_EF_SIZE, b"\xff")


# --------------------------------------------------------------------------- checked read
class SignatureCheck(enum.StrEnum):
    """What a signature-checked read of the text AP proved (its JSON value is the string).

    ``CARD_KEY_ONLY`` (``"card-key-only"``): the data matches the signature under the key
    in the card's own CV certificate — consistent (not damaged or altered after signing),
    but a forged card would pass (it supplies the key).  ``TRUSTED_ISSUER``
    (``"trusted-issuer"``): the CV certificate itself also verified under a trusted issuer
    key (J-LIS, or the test issuer), so the data was signed by a key that issuer certified.
    Neither proves that this physical card is the card the data was written to: a
    byte-for-byte copy of a genuine card's text-AP data passes both.
    """

    CARD_KEY_ONLY = "card-key-only"
    TRUSTED_ISSUER = "trusted-issuer"


@dataclass(frozen=True, repr=False)
class VerifiedTextData:
    """The My Number and the 基本4情報, read together and checked against the text AP's
    signature.  ``repr()`` masks the personal data.

    Unpacks like the pair it replaces: ``my_number, basic = text.read_verified(pin)``.

    :ivar my_number: the My Number.
    :ivar basic_info: the 基本4情報.
    :ivar signature_check: what the check proved (:class:`SignatureCheck`; a ``str``, ready
        for JSON).
    :ivar authenticity: where the trust came from (CARDAUTH-7): trust level, CV CA key id,
        ``ca_kind``, ``ca_source``; ``None`` only for objects built without it.
    """

    my_number: MyNumber
    basic_info: BasicInfo
    signature_check: SignatureCheck
    authenticity: DataAuthenticity | None = field(default=None, compare=False)

    @property
    def trusted(self) -> bool:
        """True if the signing key was checked against a trusted issuer key."""
        return self.signature_check is SignatureCheck.TRUSTED_ISSUER

    @property
    def trust_level(self) -> str:
        """The issue-11 wording: ``"verified-to-jlis-ca"`` (the CV certificate verified
        under a CV CA key of a policy — :attr:`ca_source` says bundled or the caller's — or
        under a bare key equal to a bundled J-LIS key), ``"verified-to-caller-key"`` (under
        a bare key the caller passed that is no bundled J-LIS key, CARDAUTH-7) or
        ``"self-consistent-only"`` (only the card's own key)."""
        if self.authenticity is not None:
            return self.authenticity.trust_level
        if self.signature_check is SignatureCheck.TRUSTED_ISSUER:
            return "verified-to-jlis-ca"
        return "self-consistent-only"

    @property
    def ca_source(self) -> str | None:
        """``"bundled"`` / ``"caller"``: whose key the check reached; None without one."""
        return None if self.authenticity is None else self.authenticity.ca_source

    @property
    def ca_kind(self) -> str | None:
        """``"production"`` / ``"test"`` for a CV CA key; None otherwise."""
        return None if self.authenticity is None else self.authenticity.ca_kind

    def __iter__(self) -> Iterator[Any]:
        """``(my_number, basic_info)``, for callers that unpacked the former tuple (typed
        ``Any``: use the attributes for typed access)."""
        return iter((self.my_number, self.basic_info))

    def __repr__(self) -> str:
        check = self.signature_check.value
        return f"VerifiedTextData(<personal data masked>, signature_check={check!r})"

    __str__ = __repr__
