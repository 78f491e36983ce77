"""住基AP: the facts.  NOTE: **unverified layout** (``card-interface.md`` §3.4, §12).

Sources conflict on the AID (``…0401`` vs ``…0100``); jukicard (and its emulator) put the
住基AP at ``D3 92 10 00 31 00 01 01 04 01`` with the PIN IEF ``001C`` (4 digits, 3 tries).
The EF holding the 11-digit 住民票コード is the emulator's choice (``0001``): the real EFs
are not public.
"""

from __future__ import annotations

import enum

from jukicard.apdu.apps.spec import Application, Charset, PinEnum, PinSpec

__all__ = ["AID", "JUKI", "JukiPin", "JukiEf", "RESIDENT_CODE_LEN"]

#: DF name of the 住基AP (unverified).
AID = bytes.fromhex("D3921000310001010401")
#: Digits of a 住民票コード.
RESIDENT_CODE_LEN = 11

_PIN = PinSpec("juki", 0x001C, 4, 4, 3, Charset.DIGITS, "住基暗証番号", "Juki PIN")

#: The 住基AP shell.
JUKI = Application("juki", AID, "住基AP", "Juki application", pins=(_PIN,),
                   verified_layout=False)


class JukiPin(PinEnum):
    """PIN of the 住基AP.  NOTE: unverified layout (§3.4)."""

    #: 住民基本台帳用暗証番号: 4 digits, 3 tries.
    PIN = _PIN


class JukiEf(enum.IntEnum):
    """Data EFs of the 住基AP.  NOTE: unverified layout — the real EFs are not public;
    this is the emulator's choice (住民票コード, 11 ASCII digits)."""

    RESIDENT_CODE = 0x0001
