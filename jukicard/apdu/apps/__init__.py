"""One source of truth per card application: AIDs, EF ids, PINs, keys, certificates.

One module per application — :mod:`~jukicard.apdu.apps.jpki` (with the 住基カード variant),
:mod:`~jukicard.apdu.apps.text`, :mod:`~jukicard.apdu.apps.visual`,
:mod:`~jukicard.apdu.apps.common`, :mod:`~jukicard.apdu.apps.juki` — written in the types of
:mod:`~jukicard.apdu.apps.spec`.  They sit in the APDU layer, low enough for every reader:
the sessions (:mod:`jukicard.card`), the APDU tracer (public EFs), the emulator (PIN
formats) and the test-vector generator (AIDs, EF ids).

An application *is* its facts object, an :class:`Application` (frozen, hashable): sessions
declare it (``APPLICATION``), cards hold it (``Card.applications``).  The one table of the
applications jukicard probes, lists PINs of and traces is the card layer's detection table
(:data:`jukicard.card.detect.DETECTION`), not this package.

:class:`App` is only a catalogue of the *built-in* applications' names (``App.JPKI``...)
for the many callers that name one; :data:`VARIANTS` lists the built-in variants of an
application found on other cards (same AID, other facts).  :func:`all_applications`,
:func:`find_application` and :func:`public_efs` cover these built-in facts (the emulator's
PIN formats, the tracer's default allow-list).  A new application is never added here:
its facts module lives beside these, and its row in the detection table makes it known.
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
    """Catalogue of the built-in applications' names (values: their :class:`Application`).

    All their AIDs start ``D3 92`` (RID, Japan 392).  Not a registry: what a card is probed
    for is :data:`jukicard.card.detect.DETECTION`, and a new application is not added here.
    """

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


#: Variants of built-in applications on other cards (same AID and name, other facts).
VARIANTS: tuple[Application, ...] = (JUKI_JPKI,)


def all_applications() -> tuple[Application, ...]:
    """Every built-in application (:class:`App`) and variant (:data:`VARIANTS`)."""
    return tuple(a.application for a in App) + VARIANTS


def find_application(aid: bytes, variant: str = "") -> Application | None:
    """The built-in application with DF name ``aid``: the given variant if there is one,
    else the plain application; ``None`` for an AID that is not built in."""
    matches = [a for a in all_applications() if a.aid == bytes(aid)]
    for app in matches:
        if app.variant == variant:
            return app
    return next((a for a in matches if not a.variant), None)


def public_efs() -> frozenset[tuple[bytes, bytes]]:
    """``(AID, FID)`` of every EF whose content is public, over every built-in
    application and variant: the APDU tracer's default allow-list.  The list over the
    detection table (new applications included) is :func:`jukicard.card.detect.public_efs`."""
    return frozenset(
        (app.aid, ef.to_bytes(2, "big")) for app in all_applications() for ef in app.public_efs
    )
