"""Data objects of the 券面事項確認AP (visual AP): the birth-date EF and the card-face
entries (``card-interface.md`` §3.3, §8.5).  Both hold personal data and mask themselves in
``repr()``.

Each carries :attr:`authenticity` (issue 11, VIS-5): ``not-checked`` as parsed; the
session sets it when the records' signatures were checked
(:meth:`~jukicard.card.visual.VisualSession.read_entries` with ``verify``/``policy``).
It takes no part in equality.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jukicard.card.cardauth import NOT_CHECKED, DataAuthenticity
from jukicard.card.codec import Sex, ascii_text, container, tlv
from jukicard.errors import BadResponse

__all__ = ["VisualBirth", "VisualEntries"]


@dataclass(frozen=True, repr=False)
class VisualBirth:
    """Visual-AP EF ``0001``: ``FF 10 { DF 11 birth, DF 12 public key, DF 13 signature }``.

    NOTE: layout from one public source (AOKI); the birth format is taken as 8 ASCII digits.
    """

    birth: str
    public_key: bytes
    signature: bytes
    #: how far the record is known to be the issuer's (VIS-5)
    authenticity: DataAuthenticity = field(default=NOT_CHECKED, compare=False)

    @property
    def trust_level(self) -> str:
        """``not-checked``, ``self-consistent-only`` or ``verified-to-jlis-ca``."""
        return self.authenticity.trust_level

    @classmethod
    def parse(cls, data: bytes) -> VisualBirth:
        """:raises BadResponse: malformed structure."""
        _outer, kids = container(data, 0xFF10, "visual birth EF", (0xDF11, 0xDF12, 0xDF13))
        birth, pub, sig = (k.value for _pos, k in kids)
        return cls(ascii_text(birth, "visual birth", digits=True), pub, sig)

    def signed_part(self) -> bytes:
        """``DF 11`` TLV ‖ ``DF 12`` TLV (what our test card signs)."""
        return tlv(0xDF11, self.birth.encode("ascii")) + tlv(
            0xDF12, self.public_key, long_form=True
        )

    def __bytes__(self) -> bytes:
        content = self.signed_part() + tlv(0xDF13, self.signature, long_form=True)
        return tlv(0xFF10, content, long_form=True)

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
_OPTIONAL = frozenset({0xDF2A})
_EF = "visual entries EF"


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
    #: how far the signed items are known to be the issuer's (VIS-5; ``expiry``,
    #: ``security_code_png`` and ``offsets`` are never signed, VIS-1)
    authenticity: DataAuthenticity = field(default=NOT_CHECKED, compare=False)

    @property
    def trust_level(self) -> str:
        """``not-checked``, ``self-consistent-only`` or ``verified-to-jlis-ca``."""
        return self.authenticity.trust_level

    @classmethod
    def parse(cls, data: bytes) -> VisualEntries:
        """Parse the entries EF (items in any order; unknown items are ignored).

        :raises BadResponse: malformed structure, a missing or repeated item.
        """
        _outer, kids = container(data, 0xFF20, _EF)
        found: dict[int, bytes] = {}
        for _pos, k in kids:
            if k.tag in found:
                raise BadResponse(f"{_EF}: repeated item")
            found[k.tag] = k.value
        names = dict(_VISUAL_FIELDS)
        missing = [t for t in (0xDF21, *names) if t not in found and t not in _OPTIONAL]
        if missing:
            raise BadResponse(f"{_EF}: missing items")
        offs = found[0xDF21]
        if len(offs) % 2:
            raise BadResponse(f"{_EF}: odd offset table")
        return cls(
            birth=ascii_text(found[0xDF22], "visual birth", digits=True),
            sex=Sex.parse(found[0xDF23], "visual sex"),
            public_key=found[0xDF24],
            name_png=found[0xDF25],
            address_png=found[0xDF26],
            photo=found[0xDF27],
            signature=found[0xDF28],
            expiry=ascii_text(found[0xDF29], "visual expiry"),
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
                out.append(tlv(tag, value, long_form=len(value) >= 0x80))
        return out

    def signed_part(self) -> bytes:
        """Items ``DF 22`` .. ``DF 27`` as encoded: what our test card's ``DF 28`` signs.

        NOTE: the real ``DF 28`` rule is not public; this is a jukicard test rule.
        """
        return b"".join(self._items()[:6])

    def __bytes__(self) -> bytes:
        items = self._items()
        container_len = 3 + 2 * len(items) + sum(len(i) for i in items)
        header = 2 + (3 if container_len < 0x10000 else 4)  # FF 20 82 hh ll (or 83 ...)
        pos = header + 3 + 2 * len(items)
        offs = b""
        for item in items:
            offs += pos.to_bytes(2, "big")
            pos += len(item)
        return tlv(0xFF20, tlv(0xDF21, offs) + b"".join(items), long_form=True)

    def __repr__(self) -> str:
        return "VisualEntries(<personal data masked>)"
