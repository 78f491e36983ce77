"""Card-identity commands of the emulated card: MF GET DATA and INTERNAL AUTHENTICATE
(issue 11, part C; ``card-security.md`` §2, §4).

======================  ===============================================================
``00 CA`` GET DATA      P1P2 = tag of an MF data object (``0042``, ``0045``, ``0066``,
                        ``00F0``, ``00F2``, ``00F7``, ``00F8``, ``7F21``, ``5F51``), from
                        the profile's ``mf_data``; ``6A 88`` for a tag the card lacks;
                        ``67 00`` when the object does not fit a short Le.
``00 88`` INTERNAL AUTH P1 = 00, P2 = ``80|SFI`` of a key IEF of the selected AP; data =
                        the challenge (1..255 bytes); answers sha256WithRSAEncryption
                        over it.  Only the common AP's key ``0019`` answers (no
                        credential); a 券面 default key gives ``69 85``; another key
                        behind a PIN ``69 82``.
======================  ===============================================================

Decisions (``ID-n``):

* ID-3 — GET DATA answers whatever DF is selected (the reference: "some cards answer at
  MF, others only inside an application"); the emulator is the lenient card.
* ID-4 — INTERNAL AUTHENTICATE answers only where the key's access condition is
  ``always`` and the key is not an AP's default signing key (``defaultkey``): that is how
  the profile says "the common AP's ``0019``" without a table of its own.
"""

from __future__ import annotations

from typing import ClassVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from jukicard.apdu.command import CommandApdu
from jukicard.apdu.sw import SW
from jukicard.emulator.defaultkey import default_signing_key
from jukicard.emulator.fs import KeyIEF
from jukicard.emulator.state import CardState, SwError

__all__ = ["IdentityCommands"]

#: Largest INTERNAL AUTHENTICATE challenge (short Lc).
_MAX_CHALLENGE = 255


class IdentityCommands(CardState):
    """GET DATA (MF objects) / INTERNAL AUTHENTICATE."""

    COMMANDS: ClassVar[dict[tuple[int, int], str]] = {
        (0x00, 0xCA): "_get_data",
        (0x00, 0x88): "_internal_authenticate",
    }

    # ------------------------------------------------------------------ GET DATA
    def _get_data(self, cmd: CommandApdu) -> bytes:
        if cmd.data or cmd.le is None:
            raise SwError(SW.WRONG_LENGTH)
        value = self.fs.profile.mf_data.get((cmd.p1 << 8) | cmd.p2)
        if value is None:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND, "no such data object")
        if len(value) > cmd.le and not cmd.is_extended:
            raise SwError(SW.WRONG_LENGTH, "object needs an extended Le")
        return value[:cmd.le]

    # ------------------------------------------------------------------ INTERNAL AUTHENTICATE
    def _internal_authenticate(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 != 0x00 or not 0x81 <= cmd.p2 <= 0x9E:
            raise SwError(SW.INCORRECT_P1P2)
        if not 1 <= len(cmd.data) <= _MAX_CHALLENGE:
            raise SwError(SW.WRONG_LENGTH)
        df = self._need_df()
        ef = df.get(cmd.p2 & 0x1F)
        if not isinstance(ef, KeyIEF):
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        if ef is default_signing_key(df):
            raise SwError(SW.CONDITIONS_NOT_SATISFIED, "a 券面 key does not answer 88")
        if not ef.use.satisfied_by(()):
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        self.stats.signatures += 1
        return ef.spec.key.sign(cmd.data, padding.PKCS1v15(), hashes.SHA256())
