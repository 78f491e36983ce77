"""The card layout under its former name: everything here is defined in
:mod:`jukicard.apdu.apps` (one facts module per application) and re-exported unchanged.

New code imports from :mod:`jukicard.apdu.apps` (or the :mod:`jukicard.card` package).
"""

from __future__ import annotations

from jukicard.apdu.apps import (
    App,
    Application,
    CertSpec,
    Charset,
    CommonEf,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JukiEf,
    JukiJpkiCert,
    JukiJpkiKey,
    JukiJpkiPin,
    JukiPin,
    KeySpec,
    PinSpec,
    TextEf,
    TextPin,
    VisualEf,
    VisualPin,
    make_match_b,
)
from jukicard.apdu.apps.jpki import TOKEN_EF as JPKI_TOKEN_EF
from jukicard.errors import PinFormatError

__all__ = [
    "Charset",
    "PinFormatError",
    "PinSpec",
    "Application",
    "App",
    "CertSpec",
    "KeySpec",
    "JpkiPin",
    "JpkiCert",
    "JpkiKey",
    "JukiJpkiPin",
    "JukiJpkiCert",
    "JukiJpkiKey",
    "TextPin",
    "TextEf",
    "VisualPin",
    "VisualEf",
    "JukiPin",
    "JukiEf",
    "CommonEf",
    "JPKI_TOKEN_EF",
    "make_match_b",
]
