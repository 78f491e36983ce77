"""What the card data objects share: BER-TLV access through :mod:`jukicard.apdu.tlv`, text
and date fields, the sex code, RSA PKCS#1 v1.5 SHA-256 helpers.

Every malformed input raises :class:`~jukicard.errors.BadResponse` whose message names the
EF but never echoes its content (the EFs hold personal data).
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jukicard.apdu.tlv import Tlv, encode_length, encode_tag
from jukicard.errors import BadResponse, TlvError, UsageError

__all__ = [
    "Sex",
    "ef_bytes",
    "first_tlv",
    "container",
    "tlv",
    "ascii_text",
    "utf8_text",
    "date8",
    "rsa_verify",
    "rsa_sign",
]


def ef_bytes(data: object, what: str) -> bytes:
    """``data`` (what a ``parse`` was handed) as ``bytes``.

    :raises UsageError: not bytes-like (``str``, ``int``, ``None``...): a caller's mistake,
        e.g. hex text where the EF's bytes belong.  The message names only the type.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise UsageError(f"{what}: expected the bytes read from the card, got a "
                     f"{type(data).__name__}")


def first_tlv(data: bytes, what: str) -> tuple[Tlv, bytes]:
    """The TLV at the start of ``data`` and what follows it (padding...).

    :raises UsageError: ``data`` is not bytes-like (:func:`ef_bytes`).
    :raises BadResponse: no complete TLV at the start.
    """
    raw = ef_bytes(data, what)
    try:
        return Tlv.parse_first(raw)
    except TlvError as exc:
        raise BadResponse(f"{what}: malformed TLV ({exc})") from None


def container(
    data: bytes, tag: int, what: str, layout: Sequence[int] | None = None
) -> tuple[Tlv, list[tuple[int, Tlv]]]:
    """The constructed TLV ``tag`` that starts ``data`` and its children.

    :param layout: when given, the exact tags the children must have, in order.
    :returns: ``(outer, [(offset, child), ...])``; each offset is where the child's tag
        starts, counted from the start of ``data``.
    :raises UsageError: ``data`` is not bytes-like (:func:`ef_bytes`).
    :raises BadResponse: another outer tag, children that do not fill the value exactly, or
        (with ``layout``) other children.
    """
    outer, _rest = first_tlv(data, what)
    if outer.tag != tag:
        raise BadResponse(f"{what}: unexpected tag")
    base = len(outer.header)
    try:
        kids = [(base + pos, kid) for pos, kid in Tlv.iter_with_offsets(outer.value)]
    except TlvError as exc:
        raise BadResponse(f"{what}: malformed TLV ({exc})") from None
    if layout is not None and [k.tag for _pos, k in kids] != list(layout):
        raise BadResponse(f"{what}: unexpected layout")
    return outer, kids


def tlv(tag: int, value: bytes, *, long_form: bool = False) -> bytes:
    """Encode one TLV; ``long_form`` forces the ``82 hh ll`` length (``83`` if needed), as
    real cards write it.

    :raises UsageError: a value too long for a card EF.
    """
    n = len(value)
    try:
        length = encode_length(n, 2 if n < 0x10000 else 3) if long_form else encode_length(n)
    except TlvError:
        raise UsageError("value too long for a card EF") from None
    return encode_tag(tag) + length + bytes(value)


def ascii_text(value: bytes, what: str, *, digits: bool = False) -> str:
    """Printable ASCII (``digits``: ASCII digits only).  :raises BadResponse: otherwise."""
    try:
        text = bytes(value).decode("ascii")
    except UnicodeDecodeError:
        raise BadResponse(f"{what}: not ASCII") from None
    if digits and not (text.isdigit() and text.isascii()):
        raise BadResponse(f"{what}: not all digits")
    if not text.isprintable():
        raise BadResponse(f"{what}: not printable")
    return text


def utf8_text(value: bytes, what: str) -> str:
    """UTF-8 text.  :raises BadResponse: invalid UTF-8."""
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise BadResponse(f"{what}: not valid UTF-8") from None


def date8(value: bytes, what: str) -> _dt.date:
    """A ``YYYYMMDD`` date.  :raises BadResponse: not 8 digits or not a calendar date."""
    text = ascii_text(value, what, digits=True)
    if len(text) != 8:
        raise BadResponse(f"{what}: date must be 8 digits")
    try:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise BadResponse(f"{what}: not a calendar date") from None


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


def rsa_numbers(value: bytes, what: str) -> tuple[int, int]:
    """``(e, n)`` of an RSA key written as the card writes it: ``90 e`` then ``91 n``.

    :raises BadResponse: another layout, a malformed TLV or implausible numbers.
    """
    try:
        parts = Tlv.parse_all(value)
    except TlvError as exc:
        raise BadResponse(f"{what}: malformed key TLV ({exc})") from None
    if [p.tag for p in parts] != [0x90, 0x91]:
        raise BadResponse(f"{what}: unexpected key layout")
    e = int.from_bytes(parts[0].value, "big")
    n = int.from_bytes(parts[1].value, "big")
    if e < 3 or e % 2 == 0 or n < 3 or n % 2 == 0:
        raise BadResponse(f"{what}: implausible RSA key")
    return e, n


def rsa_key_tlvs(exponent: int, modulus: int) -> bytes:
    """An RSA key as the card writes it, ``90 e`` then ``91 n`` (the inverse of
    :func:`rsa_numbers`)."""
    e = exponent.to_bytes(max(1, (exponent.bit_length() + 7) // 8), "big")
    n = modulus.to_bytes((modulus.bit_length() + 7) // 8, "big")
    return tlv(0x90, e) + tlv(0x91, n, long_form=True)


def rsa_public_key(exponent: int, modulus: int, what: str) -> rsa.RSAPublicKey:
    """The RSA public key of card-supplied numbers.

    :raises BadResponse: numbers that do not form an RSA key (``what`` names the object).
    """
    try:
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError:
        raise BadResponse(f"{what}: invalid RSA public key") from None


def rsa_verify(pub: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    """True if ``signature`` is a PKCS#1 v1.5 SHA-256 signature of ``data`` under ``pub``
    (False for anything that does not verify, however malformed)."""
    try:
        pub.verify(bytes(signature), bytes(data), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return True


def rsa_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """PKCS#1 v1.5 SHA-256 signature (test vectors)."""
    return key.sign(bytes(data), padding.PKCS1v15(), hashes.SHA256())
