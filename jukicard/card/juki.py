"""住基カード: the 住基AP shell (its JPKI AP is :class:`~jukicard.card.jpki.JukiJpkiSession`).

NOTE: **unverified layout.**  No public source documents the 住基カード's EFs
(card-interface.md §3.4, §12; the facts are in :mod:`jukicard.apdu.apps.juki`).  The 住基AP
is placed at ``D3 92 10 00 31 00 01 01 04 01`` with PIN IEF ``001C`` (4 digits, 3 tries);
the 住民票コード (11 digits) EF behind it is the emulator's choice (``0001``).  住基ネット
mutual authentication is not public and not implemented.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from jukicard.apdu.apps import Application
from jukicard.apdu.apps.juki import JUKI, JukiEf, JukiPin
from jukicard.card.jpki import JukiJpkiSession
from jukicard.card.juki_data import RESIDENT_CODE_LEN, ResidentCode
from jukicard.card.session import ApplicationSession

__all__ = ["JukiJpkiSession", "JukiSession", "ResidentCode", "RESIDENT_CODE_LEN"]

log = logging.getLogger(__name__)


class JukiSession(ApplicationSession[JukiPin]):
    """The 住基AP shell of a 住基カード: PIN status, VERIFY, read the 住民票コード.

    ``pin_status()`` and ``verify(JukiPin.PIN, value)`` come from
    :class:`~jukicard.card.session.ApplicationSession` (the PIN may be omitted for
    ``pin_status``: the AP has one).  NOTE: unverified layout (see the module docstring).

    :param channel: the card's channel, or a bare transport.
    :param extended: / :param select: see :class:`~jukicard.card.session.ApplicationSession`.
    :raises ApplicationNotFound: no 住基AP on this card.
    """

    APPLICATION: ClassVar[Application] = JUKI
    PINS: ClassVar[tuple[JukiPin, ...]] = tuple(JukiPin)

    def read_resident_code(self, pin: str | None = None) -> ResidentCode:
        """Read the 住民票コード (after VERIFY of the 住基 PIN, in the same transaction).

        :param pin: the 4-digit 住基 PIN; ``None`` relies on an earlier :meth:`verify`.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises SecurityStatusError: the PIN is not verified.
        :raises BadResponse: the EF does not hold an 11-digit code.
        :raises TransportError: (or a subclass) the card went away.
        """
        unlock = self._unlock([(JukiPin.PIN, pin)])
        with self._operation(fresh=unlock is not None):
            if unlock is not None:
                self._verify(*unlock)
            self._select_ef(JukiEf.RESIDENT_CODE, "住民票コード EF")
            data = self._read_whole("住民票コード EF", limit=256)
        return ResidentCode.parse(data)
