"""One source of truth per card application: AIDs, EF ids, PINs, keys, certificates.

One module per application — :mod:`~jukicard.apdu.apps.jpki` (with the 住基カード variant),
:mod:`~jukicard.apdu.apps.text`, :mod:`~jukicard.apdu.apps.visual`,
:mod:`~jukicard.apdu.apps.common`, :mod:`~jukicard.apdu.apps.juki` — written in the types of
:mod:`~jukicard.apdu.apps.spec`.  They sit in the APDU layer, low enough for every reader:
the sessions (:mod:`jukicard.card`), the APDU tracer (public EFs), the emulator (PIN
formats) and the test-vector generator (AIDs, EF ids).

:class:`App` is the registry of the applications jukicard knows; :data:`VARIANTS` lists the
variants of an application found on other cards (same AID, other facts).
"""

from __future__ import annotations

import enum

from jukicard.apdu.apps.common import COMMON, CommonEf
from jukicard.apdu.apps.jpki import (
    JPKI,
    JUKI_JPKI,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JukiJpkiCert,
    JukiJpkiKey,
    JukiJpkiPin,
)
from jukicard.apdu.apps.juki import JUKI, JukiEf, JukiPin
from jukicard.apdu.apps.spec import (
    Application,
    CertEnum,
    CertSpec,
    Charset,
    KeyEnum,
    KeySpec,
    PinEnum,
    PinSpec,
)
from jukicard.apdu.apps.text import TEXT, TextEf, TextPin, make_match_b
from jukicard.apdu.apps.visual import VISUAL, VisualEf, VisualPin

__all__ = [
    "Application",
    "CertSpec",
    "Charset",
    "KeySpec",
    "PinSpec",
    "PinEnum",
    "CertEnum",
    "KeyEnum",
    "App",
    "VARIANTS",
    "all_applications",
    "find_application",
    "public_efs",
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
    "make_match_b",
]


class App(enum.Enum):
    """Every application jukicard knows.  All AIDs start ``D3 92`` (RID, Japan 392)."""

    JPKI = JPKI
    TEXT = TEXT
    VISUAL = VISUAL
    COMMON = COMMON
    #: NOTE: unverified layout; sources conflict (``…0401`` vs ``…0100``), §3.4.
    JUKI = JUKI

    @property
    def aid(self) -> bytes:
        return self.application.aid

    @property
    def application(self) -> Application:
        app: Application = self.value
        return app


#: Variants of known applications on other cards (same AID and name, other facts).
VARIANTS: tuple[Application, ...] = (JUKI_JPKI,)


def all_applications() -> tuple[Application, ...]:
    """Every known application and variant."""
    return tuple(a.application for a in App) + VARIANTS


def find_application(aid: bytes, variant: str = "") -> Application | None:
    """The application with DF name ``aid``: the given variant if there is one, else the
    plain application; ``None`` for an AID jukicard does not know."""
    matches = [a for a in all_applications() if a.aid == bytes(aid)]
    for app in matches:
        if app.variant == variant:
            return app
    return next((a for a in matches if not a.variant), None)


def public_efs() -> frozenset[tuple[bytes, bytes]]:
    """``(AID, FID)`` of every EF whose content is public, over every known application
    and variant (the APDU tracer's default allow-list)."""
    return frozenset(
        (app.aid, ef.to_bytes(2, "big")) for app in all_applications() for ef in app.public_efs
    )
