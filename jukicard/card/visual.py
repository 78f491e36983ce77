"""券面事項確認AP (visual AP, "券面AP"): the card-face items.

Access (card-interface.md §3.3, §9): 照合番号A (``0013``) — the 12-digit My Number — or
照合番号B (``0012``) — birth date YYMMDD + expiry year YYYY + 4-digit security code, built
with :func:`~jukicard.card.layout.make_match_b` — unlocks the entries EF ``0002``: name and
address images (PNG), the face photo (JPEG 2000), birth date, sex, expiry, and the signature
items, returned as :class:`~jukicard.card.dataobjects.VisualEntries`.

The entries EF is large (tens of KB with the photo): it is read with one extended READ
BINARY where the card supports it, otherwise in 256-byte chunks.

NOTE: personal data; nothing read here is logged.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from jukicard.card.dataobjects import MyNumber, VisualBirth, VisualEntries
from jukicard.card.layout import App, PinSpec, VisualEf, VisualPin
from jukicard.card.session import ApplicationSession, PinStatus
from jukicard.errors import UsageError

__all__ = ["VisualSession"]

log = logging.getLogger(__name__)


class VisualSession(ApplicationSession):
    """The 券面事項確認AP.

    :param transport: the connection to the card.
    :param extended: see :class:`~jukicard.card.session.ApplicationSession`.
    :param select: select the AP at construction.
    :raises ApplicationNotFound: no visual AP on this card.
    """

    APPLICATION: ClassVar[App] = App.VISUAL

    PINS: ClassVar[tuple[VisualPin, ...]] = tuple(VisualPin)

    def pin_status(self, pin: VisualPin) -> PinStatus:
        """Tries left for ``pin`` (data-less VERIFY, never decrements).

        :raises UsageError: not a visual-AP PIN.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = self._pin(pin)
        with self._operation():
            return self._pin_status(spec)

    def verify(self, pin: VisualPin, value: str) -> None:
        """VERIFY ``value`` once.

        :raises PinFormatError: wrong format — nothing was sent.
        :raises PinError: wrong value, ``retries_left`` set.
        :raises PinBlockedError: blocked.
        """
        spec = self._pin(pin)
        raw = self._encode_pin(spec, value)
        with self._operation():
            self._verify(spec, raw)

    def read_entries(
        self,
        *,
        match_a: MyNumber | str | None = None,
        match_b: str | None = None,
    ) -> VisualEntries:
        """Read the card-face items.

        :param match_a: 照合番号A: the My Number (a :class:`MyNumber` or its 12 digits), or
        :param match_b: 照合番号B (14 digits).  With neither, an earlier :meth:`verify` in the
            current selection is relied on (the card decides).
        :returns: the items as bytes with their types.
        :raises UsageError: both given.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises SecurityStatusError: nothing verified.
        :raises BadResponse: malformed EF.
        :raises TransportError: (or a subclass) the card went away.
        """
        if match_a is not None and match_b is not None:
            raise UsageError("give only one of match_a= and match_b=")
        unlock: tuple[PinSpec, bytes] | None = None
        if match_a is not None:
            value = match_a.digits if isinstance(match_a, MyNumber) else match_a
            spec = VisualPin.MATCH_A.value
            unlock = (spec, self._encode_pin(spec, value))
        elif match_b is not None:
            spec = VisualPin.MATCH_B.value
            unlock = (spec, self._encode_pin(spec, match_b))
        with self._operation(fresh=unlock is not None):
            if unlock is not None:
                self._verify(*unlock)
            ef = self._read_tlv_ef(VisualEf.ENTRIES, "visual entries EF")
        return VisualEntries.parse(ef)

    def read_birth(self, birth_pin: str | None = None) -> VisualBirth:
        """Read the birth-date EF (``0001``: birth date, public key, signature), unlocked by
        the 6-digit 生年月日読出用暗証番号 (used for PIN-less age checks).

        NOTE: layout from one public source; the signature rule is the test card's.

        :param birth_pin: the birth-date PIN; ``None`` relies on an earlier :meth:`verify`.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises SecurityStatusError: nothing verified.
        :raises BadResponse: malformed EF.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = VisualPin.BIRTH.value
        raw = self._encode_pin(spec, birth_pin) if birth_pin is not None else None
        with self._operation(fresh=raw is not None):
            if raw is not None:
                self._verify(spec, raw)
            ef = self._read_tlv_ef(VisualEf.BIRTH, "visual birth EF")
        return VisualBirth.parse(ef)
