"""Open a connection to a card: a PC/SC reader, or the built-in emulated card.

:func:`open_transport` is what every command uses:

* ``emulated=True`` (or a ``profile``): the in-process emulator,
  ``LoopbackTransport(CardOS(load_profile("mynumber-01")))``;
* ``reader=NAME|INDEX``: that PC/SC reader (a name substring matching one reader works);
* neither: the first PC/SC reader with a card.  When there is no reader at all, the PC/SC
  service is not running or pyscard is missing, it falls back to the built-in emulated card
  (if the caller allows it: ``fallback=True``) and says so through ``notify``
  (:data:`FALLBACK_NOTICE`).  Readers without a card are an error
  (:class:`~jukicard.errors.CardRemovedError`), not a reason to fall back.

:func:`open_with_source` also says which card source was used (:class:`CardSource`: a
reader or the emulated card, and whether it was a fallback).

A deployment switches the fallback off entirely with :data:`FALLBACK_ENV`
(``JUKICARD_EMULATED_FALLBACK=off``) or with its configuration file (:data:`CONFIG_ENV`,
default :data:`DEFAULT_CONFIG`)::

    [connect]
    emulated_fallback = off

:func:`fallback_enabled` reads both (the environment variable wins); an explicit
``emulated=True`` still works.

The transport returned is wrapped in a :class:`~jukicard.transport.tracing.TracingTransport`
(:func:`traced`) so ``--log-level TRAFFIC`` shows the APDUs, with PINs and personal data
redacted; its allow-list of public EFs comes from the detection table
(:func:`jukicard.card.detect.public_efs`), so a new application's public EFs are logged and
the rest of its data is redacted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jukicard.card.detect import public_efs
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
    "FALLBACK_ENV",
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "CardSource",
    "fallback_enabled",
    "may_fall_back",
    "open_transport",
    "open_with_source",
    "card_source",
    "emulated_transport",
    "new_emulated_card",
    "describe_transport",
    "traced",
    "unwrap",
]

log = logging.getLogger(__name__)

#: The built-in emulated card (synthetic test card, see vectors/cards/README.md).
EMULATED_PROFILE = "mynumber-01"
#: What the user is told when no reader is available and the emulated card is used.
FALLBACK_NOTICE = "no reader found: using the built-in emulated card"

#: Environment variable: ``off``/``no``/``0``/``false`` switches the fallback to the emulated
#: card off, ``on``/``yes``/``1``/``true`` on (it overrides the configuration file).
FALLBACK_ENV = "JUKICARD_EMULATED_FALLBACK"
#: Environment variable naming the configuration file (INI).
CONFIG_ENV = "JUKICARD_CONFIG"
#: The configuration file read when :data:`CONFIG_ENV` is not set.
DEFAULT_CONFIG = "/etc/jukicard/jukicard.conf"

#: PC/SC return codes meaning "the PC/SC service is not there" (fallback allowed).
_NO_SERVICE_CODES = frozenset({0x8010001D, 0x8010001E})
_SWITCH = {"on": True, "yes": True, "true": True, "1": True,
           "off": False, "no": False, "false": False, "0": False}


@dataclass(frozen=True)
class CardSource:
    """Where the card of a command came from.

    :ivar kind: ``"reader"`` or ``"emulated"``.
    :ivar name: the reader's name, or the emulated card's profile name.
    :ivar fallback: the emulated card was used because no reader could be used.
    """

    kind: Literal["reader", "emulated"]
    name: str | None
    fallback: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "fallback": self.fallback}

    def __str__(self) -> str:
        if self.kind == "emulated":
            return f"emulated card {self.name!r}" if self.name else "emulated card"
        return f"reader {self.name!r}"


def _switch(value: str, where: str) -> bool:
    try:
        return _SWITCH[value.strip().lower()]
    except KeyError:
        raise UsageError(f"{where}: {value!r} is not on/off") from None


def fallback_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """May a command fall back to the emulated card when no reader can be used?

    :param environ: the environment (default :data:`os.environ`).
    :returns: the value of :data:`FALLBACK_ENV` if set, else ``emulated_fallback`` in the
        ``[connect]`` section of the configuration file, else ``True``.
    :raises UsageError: a value that is not on/off, or a configuration file that cannot be
        read or parsed.
    """
    env = os.environ if environ is None else environ
    if env.get(FALLBACK_ENV, "").strip():
        return _switch(env[FALLBACK_ENV], FALLBACK_ENV)
    path = env.get(CONFIG_ENV) or DEFAULT_CONFIG
    if not os.path.exists(path):
        return True
    import configparser

    parser = configparser.ConfigParser()
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise UsageError(f"cannot read the configuration file {path!r}: {exc}") from exc
    value = parser.get("connect", "emulated_fallback", fallback=None)
    return True if value is None else _switch(value, f"{path} [connect] emulated_fallback")

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


def may_fall_back(exc: BaseException) -> bool:
    """True if ``exc`` (from opening a PC/SC reader) means "no reader can be used at all"
    (no reader, PC/SC service down, pyscard missing): the case where the emulated card may
    stand in.  A dead or empty reader is not such a case."""
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
    transport, _source = open_with_source(
        reader, emulated, profile=profile, fallback=fallback, notify=notify, trace=trace,
        pcsc_factory=pcsc_factory)
    return transport


def open_with_source(
    reader: str | int | None = None,
    emulated: bool = False,
    *,
    profile: str | os.PathLike[str] | None = None,
    fallback: bool = True,
    notify: Callable[[str], None] | None = None,
    trace: bool = True,
    pcsc_factory: PcscFactory | None = None,
) -> tuple[Transport, CardSource]:
    """:func:`open_transport`, and the :class:`CardSource` it used.

    :raises UsageError: / :raises TransportError: as :func:`open_transport`.
    """
    fell_back = False
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
            if reader is not None or not fallback or not may_fall_back(exc):
                raise
            log.info("no PC/SC reader usable (%s); falling back to the emulated card", exc)
            (notify or log.warning)(FALLBACK_NOTICE)
            inner = emulated_transport(None)
            fell_back = True
    source = card_source(inner, fallback=fell_back)
    return (traced(inner) if trace else inner), source


def traced(transport: Transport) -> TracingTransport:
    """``transport`` wrapped in a redacting :class:`TracingTransport` whose public EFs are
    those of the detection table (:func:`jukicard.card.detect.public_efs`, read now)."""
    return TracingTransport(transport, public_efs=public_efs())


def unwrap(transport: Any) -> Any:
    """The innermost transport under any :class:`TracingTransport` wrappers."""
    seen = 0
    while isinstance(transport, TracingTransport) and seen < 16:
        transport = transport.inner
        seen += 1
    return transport


def card_source(transport: Any, *, fallback: bool = False) -> CardSource:
    """The :class:`CardSource` of an open transport (tracing wrappers are looked through).

    :param fallback: record that the emulated card stands in for a missing reader.
    """
    inner = unwrap(transport)
    if isinstance(inner, LoopbackTransport):
        profile = getattr(getattr(inner.card, "profile", None), "name", None)
        return CardSource("emulated", profile, fallback)
    return CardSource("reader", getattr(inner, "reader", None) or type(inner).__name__)


def describe_transport(transport: Any) -> str:
    """A short description of where the card is: ``"reader 'NAME'"`` or
    ``"emulated card 'mynumber-01'"``."""
    return str(card_source(transport))
