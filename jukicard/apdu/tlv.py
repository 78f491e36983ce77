"""BER-TLV (ISO/IEC 7816-4 §6.3 / X.690 subset) as used by the My Number and Juki cards.

Pure parsing and encoding, no I/O.  What the cards need, and what this module does:

* Tags are ints holding the tag bytes big-endian: ``0x30``, ``0xDF21``, ``0xFF10``,
  ``0x7F21``, ``0x5F4E``.  Multi-byte (high-tag-number) tags are accepted even when the
  number is below 31 (``FF 10``): the cards use them, DER would not.  At most 4 tag bytes.
* Lengths: short form and long forms ``81``..``84``.  Non-minimal long forms (``82 00 9F``)
  are accepted, as real My Number EFs use them; the form read is kept on the :class:`Tlv`
  (``length_octets``) so ``bytes(tlv)`` gives back exactly the bytes that were parsed.
  Encoding is minimal unless a form is asked for.  The indefinite form (``80``) and forms
  ``85``..``FF`` are refused with :class:`~jukicard.errors.TlvError`.
* EFs are fixed-size and padded with ``FF`` after the TLV.  ``FF`` is also a legal first tag
  byte (private, constructed, high-tag-number), so padding is never skipped implicitly:
  either use :meth:`Tlv.parse_first` and ignore the rest, or pass ``padding=b"\\xff"``
  to :meth:`Tlv.parse` / :meth:`Tlv.parse_all`, which then accept trailing bytes only if
  they are all padding.  (A run of ``FF`` bytes alone can never be a complete TLV, so this
  is unambiguous.)

Every malformed input raises :class:`~jukicard.errors.TlvError`; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from jukicard.errors import TlvError

__all__ = [
    "Tlv",
    "decode_tag",
    "decode_length",
    "encode_tag",
    "encode_length",
    "MAX_TAG_BYTES",
    "MAX_LENGTH_OCTETS",
]

MAX_TAG_BYTES = 4
MAX_LENGTH_OCTETS = 4  # 84 xx xx xx xx


def _as_bytes(data: object) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TlvError(f"expected bytes, got {type(data).__name__}")


def decode_tag(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Decode the tag field starting at ``offset``.

    :param data: the buffer.
    :param offset: where the tag starts.
    :returns: ``(tag, offset_after_tag)``; the tag is the tag bytes as a big-endian int.
    :raises TlvError: truncated tag or more than :data:`MAX_TAG_BYTES` bytes.
    """
    if offset < 0 or offset >= len(data):
        raise TlvError("truncated TLV: missing tag")
    first = data[offset]
    tag = first
    pos = offset + 1
    if first & 0x1F != 0x1F:
        return tag, pos
    while True:
        if pos >= len(data):
            raise TlvError("truncated TLV: multi-byte tag cut short")
        if pos - offset >= MAX_TAG_BYTES:
            raise TlvError(f"tag longer than {MAX_TAG_BYTES} bytes")
        b = data[pos]
        tag = (tag << 8) | b
        pos += 1
        if not b & 0x80:
            return tag, pos


def decode_length(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Decode the length field starting at ``offset``.

    Accepts the short form and the long forms ``81``..``84``, minimal or not.

    :param data: the buffer.
    :param offset: where the length field starts.
    :returns: ``(length, offset_after_length_field)``.
    :raises TlvError: truncated field, indefinite form ``80``, or a form above ``84``.
    """
    if offset < 0 or offset >= len(data):
        raise TlvError("truncated TLV: missing length")
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    if first == 0x80:
        raise TlvError("indefinite length (80) is not allowed")
    n = first & 0x7F
    if n > MAX_LENGTH_OCTETS:
        raise TlvError(f"length form {first:02X} not supported")
    end = offset + 1 + n
    if end > len(data):
        raise TlvError("truncated TLV: length field cut short")
    return int.from_bytes(data[offset + 1 : end], "big"), end


def _check_tag(tag: object) -> bytes:
    if not isinstance(tag, int) or isinstance(tag, bool) or tag < 0:
        raise TlvError(f"tag must be a non-negative int, got {tag!r}")
    size = max(1, (tag.bit_length() + 7) // 8)
    if size > MAX_TAG_BYTES:
        raise TlvError(f"tag {tag:X} longer than {MAX_TAG_BYTES} bytes")
    raw = tag.to_bytes(size, "big")
    parsed, end = decode_tag(raw + b"\x00")  # sentinel: a valid tag must end inside raw
    if parsed != tag or end != size:
        raise TlvError(f"{tag:X} is not a valid BER tag encoding")
    return raw


def encode_tag(tag: int) -> bytes:
    """The tag bytes of ``tag`` (e.g. ``0xFF10`` → ``FF 10``).

    :raises TlvError: if ``tag`` is not a valid BER tag of at most 4 bytes.
    """
    return _check_tag(tag)


def encode_length(n: int, form: int | None = None) -> bytes:
    """Encode a length field.

    :param n: the value length.
    :param form: ``None`` = minimal encoding; ``0`` = short form (``n`` < 128);
        ``1``..``4`` = long form with that many length octets (``81``..``84``), zero-padded
        (e.g. ``encode_length(0x9F, 2)`` → ``82 00 9F``).
    :raises TlvError: if ``n`` is negative or does not fit the requested form.
    """
    if not isinstance(n, int) or n < 0:
        raise TlvError(f"length must be a non-negative int, got {n!r}")
    if form is None:
        if n < 0x80:
            return bytes((n,))
        form = (n.bit_length() + 7) // 8
    if not isinstance(form, int) or not 0 <= form <= MAX_LENGTH_OCTETS:
        raise TlvError(f"length form must be 0..{MAX_LENGTH_OCTETS}, got {form!r}")
    if form == 0:
        if n >= 0x80:
            raise TlvError(f"length {n} does not fit the short form")
        return bytes((n,))
    if n >= 1 << (8 * form):
        raise TlvError(f"length {n} does not fit {form} length octets")
    return bytes((0x80 | form,)) + n.to_bytes(form, "big")


def _minimal_form(n: int) -> int:
    return 0 if n < 0x80 else (n.bit_length() + 7) // 8


@dataclass(frozen=True)
class Tlv:
    """One BER-TLV data object.

    :param tag: tag bytes as a big-endian int (``0xFF10``, ``0xDF21``, ``0x7F21``...).
    :param value: the value field (for constructed objects, the encoded children).
    :param length_octets: how the length is encoded: ``None`` = minimal; ``0`` = short form;
        ``1``..``4`` = ``81``..``84`` long form.  Parsing sets it only when the input was
        not minimal (e.g. ``82 00 9F`` → ``2``), so parsed objects re-encode to exactly the
        input, and minimal ones compare equal to ``Tlv(tag, value)``.
    :raises TlvError: invalid tag, or a value that does not fit the length form.
    """

    tag: int
    value: bytes = b""
    length_octets: int | None = field(default=None)

    def __post_init__(self) -> None:
        _check_tag(self.tag)
        object.__setattr__(self, "value", _as_bytes(self.value))
        if self.length_octets is not None:
            if self.length_octets == _minimal_form(len(self.value)):
                object.__setattr__(self, "length_octets", None)
            else:
                encode_length(len(self.value), self.length_octets)  # validates

    # ------------------------------------------------------------------ properties
    @property
    def tag_bytes(self) -> bytes:
        """The encoded tag."""
        return _check_tag(self.tag)

    @property
    def constructed(self) -> bool:
        """True if the constructed bit (b6 of the first tag byte) is set."""
        return bool(self.tag_bytes[0] & 0x20)

    @property
    def tag_class(self) -> int:
        """The class bits of the first tag byte: 0 universal, 1 application,
        2 context-specific, 3 private."""
        return self.tag_bytes[0] >> 6

    @property
    def header(self) -> bytes:
        """Tag and length fields as encoded by ``bytes(self)``."""
        return self.tag_bytes + encode_length(len(self.value), self.length_octets)

    @property
    def encoded_length(self) -> int:
        """Length of the whole encoding (tag + length + value)."""
        return len(self.header) + len(self.value)

    # ------------------------------------------------------------------ encoding
    def encode(self) -> bytes:
        """The TLV bytes."""
        return self.header + self.value

    __bytes__ = encode

    @classmethod
    def build(cls, tag: int, children: Iterable[Tlv], length_octets: int | None = None) -> Tlv:
        """A TLV whose value is the concatenation of ``children``.

        :param tag: the (normally constructed) tag.
        :param children: the nested objects, in order.
        :param length_octets: length form of the outer object (see :class:`Tlv`).
        """
        return cls(tag, b"".join(bytes(c) for c in children), length_octets)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse_first(cls, data: bytes) -> tuple[Tlv, bytes]:
        """Parse the first TLV of ``data``.

        :param data: bytes starting with a TLV.
        :returns: ``(tlv, rest)`` where ``rest`` is everything after it (padding, more
            TLVs...), left for the caller.
        :raises TlvError: if ``data`` does not start with a complete TLV.
        """
        buf = _as_bytes(data)
        tlv, end = cls._parse_at(buf, 0)
        return tlv, buf[end:]

    @classmethod
    def parse(cls, data: bytes, *, padding: bytes = b"") -> Tlv:
        """Parse exactly one TLV.

        :param data: the encoded object.
        :param padding: byte values allowed after it (e.g. ``b"\\xff"`` for a padded EF);
            empty = nothing may follow.
        :raises TlvError: malformed TLV, or trailing bytes that are not all padding.
        """
        tlv, rest = cls.parse_first(data)
        if rest and not _all_padding(rest, padding):
            raise TlvError(f"{len(rest)} unexpected bytes after the TLV")
        return tlv

    @classmethod
    def parse_all(cls, data: bytes, *, padding: bytes = b"") -> list[Tlv]:
        """Parse a sequence of TLVs that fills ``data``.

        :param data: concatenated TLVs (may be empty).
        :param padding: byte values that may end the sequence (e.g. ``b"\\xff"`` or
            ``b"\\x00\\xff"``): parsing stops as soon as the remaining bytes are all padding.
            Empty = strict, the TLVs must fill ``data`` exactly.
        :raises TlvError: on any malformed object.
        """
        buf = _as_bytes(data)
        out: list[Tlv] = []
        pos = 0
        while pos < len(buf):
            if padding and _all_padding(buf[pos:], padding):
                break
            tlv, pos = cls._parse_at(buf, pos)
            out.append(tlv)
        return out

    @classmethod
    def iter_with_offsets(cls, data: bytes, *, padding: bytes = b"") -> Iterator[tuple[int, Tlv]]:
        """Like :meth:`parse_all` but yields ``(offset, tlv)`` pairs; the offset is where the
        TLV's tag starts in ``data`` (needed for digests over raw byte ranges)."""
        buf = _as_bytes(data)
        pos = 0
        while pos < len(buf):
            if padding and _all_padding(buf[pos:], padding):
                return
            start = pos
            tlv, pos = cls._parse_at(buf, pos)
            yield start, tlv

    @classmethod
    def _parse_at(cls, buf: bytes, pos: int) -> tuple[Tlv, int]:
        tag, pos = decode_tag(buf, pos)
        length_start = pos
        length, pos = decode_length(buf, pos)
        octets = pos - length_start - 1
        end = pos + length
        if end > len(buf):
            raise TlvError(
                f"truncated TLV: tag {tag:X} announces {length} bytes, {len(buf) - pos} present"
            )
        form = None if octets == _minimal_form(length) else octets
        return cls(tag, buf[pos:end], form), end

    # ------------------------------------------------------------------ navigation
    def children(self, *, padding: bytes = b"") -> list[Tlv]:
        """Parse the value as a sequence of TLVs.

        Works whatever the constructed bit says; note the My Number EF's ``FF 10`` is
        constructed but holds plain digits, so this raises for it.

        :param padding: trailing byte values to ignore, as in :meth:`parse_all`
            (default: none, strict).
        :raises TlvError: if the value is not a sequence of TLVs.
        """
        return Tlv.parse_all(self.value, padding=padding)

    def find(self, tag: int, *, padding: bytes = b"") -> Tlv | None:
        """The first direct child with ``tag``, or ``None``.

        :raises TlvError: if the value is not a sequence of TLVs.
        """
        for child in self.children(padding=padding):
            if child.tag == tag:
                return child
        return None

    def require(self, tag: int, *, padding: bytes = b"") -> Tlv:
        """The first direct child with ``tag``.

        :raises TlvError: if there is none, or the value is not a sequence of TLVs.
        """
        child = self.find(tag, padding=padding)
        if child is None:
            raise TlvError(f"tag {tag:X} missing in {self.tag:X}")
        return child

    def __repr__(self) -> str:  # no value: it may be personal data
        form = "" if self.length_octets is None else f", length_octets={self.length_octets}"
        return f"Tlv(tag={self.tag:X}, len={len(self.value)}{form})"


def _all_padding(rest: bytes, padding: bytes) -> bool:
    return bool(padding) and not rest.translate(None, bytes(padding))
