"""券面事項確認AP (visual AP, "券面AP"): the card-face items.

Access (card-interface.md §3.3, §9): 照合番号A (``0013``) — the 12-digit My Number — or
照合番号B (``0012``) — birth date YYMMDD + expiry year YYYY + 4-digit security code, built
with :func:`~jukicard.apdu.apps.make_match_b` — unlocks the entries EF ``0002``: name and
address images (PNG), the face photo (JPEG 2000), birth date, sex, expiry, and the signature
items, returned as :class:`~jukicard.card.visual_data.VisualEntries`.

The entries EF is large (tens of KB with the photo): it is read with one extended READ
BINARY where the card supports it, otherwise in 256-byte chunks.  The facts are in
:mod:`jukicard.apdu.apps.visual`.

NOTE: personal data; nothing read here is logged.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from jukicard.apdu.apps import Application
from jukicard.apdu.apps.visual import VISUAL, VisualEf, VisualPin
from jukicard.card.session import ApplicationSession
from jukicard.card.text_data import MyNumber
from jukicard.card.visual_data import VisualBirth, VisualEntries

__all__ = ["VisualSession"]

log = logging.getLogger(__name__)


class VisualSession(ApplicationSession[VisualPin]):
    """The 券面事項確認AP.

    :param channel: the card's channel, or a bare transport (see
        :class:`~jukicard.card.session.ApplicationSession`).
    :param extended: / :param select: see :class:`~jukicard.card.session.ApplicationSession`.
    :raises ApplicationNotFound: no visual AP on this card.
    """

    APPLICATION: ClassVar[Application] = VISUAL
    PINS: ClassVar[tuple[VisualPin, ...]] = tuple(VisualPin)

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
        value_a = match_a.digits if isinstance(match_a, MyNumber) else match_a
        unlock = self._unlock([(VisualPin.MATCH_A, value_a), (VisualPin.MATCH_B, match_b)])
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
        unlock = self._unlock([(VisualPin.BIRTH, birth_pin)])
        with self._operation(fresh=unlock is not None):
            if unlock is not None:
                self._verify(*unlock)
            ef = self._read_tlv_ef(VisualEf.BIRTH, "visual birth EF")
        return VisualBirth.parse(ef)
