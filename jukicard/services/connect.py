"""Open a connection to a card: a PC/SC reader, or the built-in emulated card.

:func:`open_transport` is what every command uses:

* ``emulated=True`` (or a ``profile``): the in-process emulator,
  ``LoopbackTransport(CardOS(load_profile("mynumber-01")))``;
* ``reader=NAME|INDEX``: that PC/SC reader (a name substring matching one reader works);
* neither: the first PC/SC reader with a card.  When there is no reader at all, the PC/SC
  service is not running or pyscard is missing, it falls back to the built-in emulated card
  and says so through ``notify`` (:data:`FALLBACK_NOTICE`).  Readers without a card are an
  error (:class:`~jukicard.errors.CardRemovedError`), not a reason to fall back.

The transport returned is wrapped in a :class:`~jukicard.transport.tracing.TracingTransport`
so ``--log-level TRAFFIC`` shows the APDUs, with PINs and personal data redacted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import ProfileError, load_profile
from jukicard.errors import NoReaderError, ReaderUnavailableError, UsageError
from jukicard.transport.base import Transport
from jukicard.transport.loopback import LoopbackTransport
from jukicard.transport.pcsc import PcscTransport
from jukicard.transport.tracing import TracingTransport

__all__ = [
    "EMULATED_PROFILE",
    "FALLBACK_NOTICE",
    "open_transport",
    "emulated_transport",
    "new_emulated_card",
    "describe_transport",
    "unwrap",
]

log = logging.getLogger(__name__)

#: The built-in emulated card (synthetic test card, see vectors/cards/README.md).
EMULATED_PROFILE = "mynumber-01"
#: What the user is told when no reader is available and the emulated card is used.
FALLBACK_NOTICE = "no reader found: using the built-in emulated card"

#: PC/SC return codes meaning "the PC/SC service is not there" (fallback allowed).
_NO_SERVICE_CODES = frozenset({0x8010001D, 0x8010001E})

PcscFactory = Callable[..., Transport]


def new_emulated_card(profile: str | os.PathLike[str] = EMULATED_PROFILE) -> CardOS:
    """A fresh emulated card from ``profile`` (a name in ``vectors/cards`` or a path).

    Tests replace this function (``monkeypatch``) to share one card between commands.

    :raises UsageError: the profile cannot be loaded.
    """
    try:
        return CardOS(load_profile(profile))
    except ProfileError as exc:
        raise UsageError(f"cannot load emulated card profile: {exc}") from exc


def emulated_transport(profile: str | os.PathLike[str] | None = None) -> LoopbackTransport:
    """A loopback transport to a fresh emulated card.

    :param profile: card profile name or path (default :data:`EMULATED_PROFILE`).
    :raises UsageError: the profile cannot be loaded.
    """
    return LoopbackTransport(new_emulated_card(profile or EMULATED_PROFILE))


def _may_fall_back(exc: Exception) -> bool:
    if isinstance(exc, NoReaderError):
        return True
    if isinstance(exc, ReaderUnavailableError):
        code = getattr(exc, "pcsc_code", None)
        # no code: pyscard missing; a code: only "service not running", not a dead reader
        return code is None or code in _NO_SERVICE_CODES
    return False


def open_transport(
    reader: str | int | None = None,
    emulated: bool = False,
    *,
    profile: str | os.PathLike[str] | None = None,
    fallback: bool = True,
    notify: Callable[[str], None] | None = None,
    trace: bool = True,
    pcsc_factory: PcscFactory | None = None,
) -> Transport:
    """Open the card the user means.

    :param reader: a reader name (or a substring matching exactly one reader) or an index
        into the reader list; ``None`` = the first reader with a card.
    :param emulated: use the built-in emulated card.
    :param profile: use this emulated card profile (implies ``emulated``).
    :param fallback: with neither ``reader`` nor ``emulated``, fall back to the emulated card
        when no reader can be used at all.
    :param notify: told :data:`FALLBACK_NOTICE` when falling back (default: a log warning).
    :param trace: wrap the transport in a redacting :class:`TracingTransport`.
    :param pcsc_factory: builds the PC/SC transport (default :class:`PcscTransport`; tests
        pass a fake).
    :returns: an open transport; close it (or use it as a context manager) when done.
    :raises UsageError: both a reader and the emulated card were asked for; bad profile.
    :raises NoReaderError: the named reader does not exist (no fallback for a named reader).
    :raises CardRemovedError: readers exist but none holds a card.
    :raises TransportError: (or a subclass) any other reader problem.
    """
    if profile is not None:
        emulated = True
    if emulated and reader is not None:
        raise UsageError("give either a reader or the emulated card, not both")
    inner: Transport
    if emulated:
        inner = emulated_transport(profile)
        log.info("using the emulated card %s", profile or EMULATED_PROFILE)
    else:
        factory = pcsc_factory or PcscTransport
        try:
            inner = factory(reader)
        except (NoReaderError, ReaderUnavailableError) as exc:
            if reader is not None or not fallback or not _may_fall_back(exc):
                raise
            log.info("no PC/SC reader usable (%s); falling back to the emulated card", exc)
            (notify or log.warning)(FALLBACK_NOTICE)
            inner = emulated_transport(None)
    return TracingTransport(inner) if trace else inner


def unwrap(transport: Any) -> Any:
    """The innermost transport under any :class:`TracingTransport` wrappers."""
    seen = 0
    while isinstance(transport, TracingTransport) and seen < 16:
        transport = transport.inner
        seen += 1
    return transport


def describe_transport(transport: Any) -> str:
    """A short description of where the card is: ``"reader 'NAME'"`` or
    ``"emulated card 'mynumber-01'"``."""
    inner = unwrap(transport)
    if isinstance(inner, LoopbackTransport):
        profile = getattr(getattr(inner.card, "profile", None), "name", None)
        return f"emulated card {profile!r}" if profile else "emulated card"
    name = getattr(inner, "reader", None)
    if name:
        return f"reader {name!r}"
    return type(inner).__name__
