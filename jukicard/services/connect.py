"""Open a connection to a card: a PC/SC reader, or the built-in emulated card.

:func:`open_transport` is what every command uses:

* ``emulated=True`` (or a ``profile``): the in-process emulator,
  ``LoopbackTransport(CardOS(load_profile("mynumber-01")))``;
* ``reader=NAME|INDEX``: that PC/SC reader (a name substring matching one reader works);
* neither: the first PC/SC reader with a card.  Only when the caller asks for it
  (``fallback=True``; the library default is ``False``) *and* the deployment allows it
  (:func:`fallback_enabled`), a machine with no reader at all, no PC/SC service or no
  pyscard gets the built-in emulated card instead, and is told so through ``notify``
  (:data:`FALLBACK_NOTICE`).  Readers without a card are an error
  (:class:`~jukicard.errors.CardRemovedError`), not a reason to fall back.

:func:`open_with_source` also says which card source was used (:class:`CardSource`: a
reader or the emulated card, and whether it was a fallback).

The deployment switch fails closed (:func:`fallback_setting`).  Three sources are read, and
the fallback is allowed only when none of them says ``off``:

* the environment variable :data:`FALLBACK_ENV` (``JUKICARD_EMULATED_FALLBACK=off``);
* the system file :data:`DEFAULT_CONFIG` (``/etc/jukicard/jukicard.conf``), always read
  when it exists;
* the file named by :data:`CONFIG_ENV` (``JUKICARD_CONFIG``), read *as well*, never
  instead of the system file::

    [connect]
    emulated_fallback = off

A user's ``on`` never overrides a deployment's ``off``.  A file that is named but missing,
a system file that is a dangling symbolic link (or exists but cannot be read), a file
that is not a regular file (a FIFO, ``/dev/null``), that is not UTF-8 or does not parse, or
that holds another section or key than ``emulated_fallback`` under ``[connect]`` is a
:class:`~jukicard.errors.UsageError` naming the file (so is a value that is not on/off);
values are taken literally (no ``%`` interpolation).  An explicit ``emulated=True`` still
works.

The transport returned is wrapped in a :class:`~jukicard.transport.tracing.TracingTransport`
(:func:`traced`) so ``--log-level TRAFFIC`` shows the APDUs, with PINs and personal data
redacted; its allow-list of public EFs comes from the detection table
(:func:`jukicard.card.detect.public_efs`), so a new application's public EFs are logged and
the rest of its data is redacted.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jukicard.card.detect import public_efs
from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import ProfileError, load_profile
from jukicard.errors import NoReaderError, ReaderUnavailableError, UsageError
from jukicard.services.inputs import InputError
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
    "FallbackSetting",
    "fallback_setting",
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
#: card off; ``on``/``yes``/``1``/``true`` leaves it to the other sources (an ``off``
#: anywhere wins).
FALLBACK_ENV = "JUKICARD_EMULATED_FALLBACK"
#: Environment variable naming a configuration file (INI) read besides :data:`DEFAULT_CONFIG`.
CONFIG_ENV = "JUKICARD_CONFIG"
#: The system configuration file, always read when it exists.
DEFAULT_CONFIG = "/etc/jukicard/jukicard.conf"

#: PC/SC return codes meaning "the PC/SC service is not there" (fallback allowed).
_NO_SERVICE_CODES = frozenset({0x8010001D, 0x8010001E})
_SWITCH = {"on": True, "yes": True, "true": True, "1": True,
           "off": False, "no": False, "false": False, "0": False}
_SECTION = "connect"
_KEY = "emulated_fallback"
#: Largest configuration file read (it holds one line that matters).
_MAX_CONFIG = 64 * 1024


@dataclass(frozen=True)
class CardSource:
    """Where the card of a command came from.

    :ivar kind: ``"reader"`` or ``"emulated"``.
    :ivar name: the reader's name; for the emulated card the profile as the caller named it
        (a bare name such as ``mynumber-01``, or the path given).
    :ivar fallback: the emulated card was used because no reader could be used.
    :ivar profile: the emulated card's profile name (from inside the profile), else ``None``.
    """

    kind: Literal["reader", "emulated"]
    name: str | None
    fallback: bool = False
    profile: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"kind", "name", "fallback"}``, and ``"profile"`` for the emulated card."""
        obj: dict[str, Any] = {"kind": self.kind, "name": self.name, "fallback": self.fallback}
        if self.kind == "emulated":
            obj["profile"] = self.profile
        return obj

    def __str__(self) -> str:
        if self.kind == "emulated":
            text = f"emulated card {self.name!r}" if self.name else "emulated card"
            if self.profile and self.profile != self.name:
                text += f" (profile {self.profile!r})"
            return text
        return f"reader {self.name!r}"


def _switch(value: str, where: str) -> bool:
    try:
        return _SWITCH[value.strip().lower()]
    except KeyError:
        raise UsageError(f"{where}: {value!r} is not on/off") from None


@dataclass(frozen=True)
class FallbackSetting:
    """What the deployment says about the fallback to the emulated card.

    :ivar enabled: the fallback is allowed (no source says off).
    :ivar switched_off_by: the first source that says off: ``"JUKICARD_EMULATED_FALLBACK=off"``
        or the path of the configuration file; ``None`` when enabled.
    :ivar sources: every source that was read and had a say (variable name, file paths).
    """

    enabled: bool
    switched_off_by: str | None = None
    sources: tuple[str, ...] = ()


def _config_error(path: str, what: str) -> UsageError:
    return UsageError(f"configuration file {path!r}: {what}")


def _read_config_text(path: str, named: bool) -> str | None:
    """The text of a configuration file; ``None`` when the system file does not exist.

    Opened without blocking (a FIFO cannot hang the command) and checked to be a regular
    file of at most :data:`_MAX_CONFIG` bytes.  The system file is absent only when nothing
    is there at all (``lstat`` finds nothing): a dangling symbolic link, or anything else
    that exists but cannot be read, is an error — the switch fails closed.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        if named:
            raise _config_error(path, f"does not exist (named by {CONFIG_ENV})") from None
        try:
            seen = os.lstat(path)
        except FileNotFoundError:
            return None  # really absent
        except OSError as exc:
            raise _config_error(path, f"cannot be read: {exc.strerror or exc}") from None
        what = ("is a symbolic link to a file that does not exist" if stat.S_ISLNK(seen.st_mode)
                else "exists but cannot be opened")
        raise _config_error(path, what) from None
    except OSError as exc:
        raise _config_error(path, f"cannot be read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _config_error(path, "is not a regular file")
        if st.st_size > _MAX_CONFIG:
            raise _config_error(path, f"is larger than {_MAX_CONFIG // 1024} KiB")
        raw = os.read(fd, _MAX_CONFIG + 1)
    except OSError as exc:
        raise _config_error(path, f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _config_error(path, "is not UTF-8 text") from None


def _parse_config(path: str, text: str) -> bool | None:
    """``emulated_fallback`` of a configuration file's ``[connect]`` section (``None``: not
    set).  Only that section and that key are allowed; values are taken literally."""
    import configparser

    # no interpolation ("off%" is a bad value, not a crash); [DEFAULT] is not special here
    parser = configparser.ConfigParser(interpolation=None, default_section="\0")
    try:
        parser.read_string(text)
    except configparser.MissingSectionHeaderError as exc:
        raise _config_error(path, f"line {exc.lineno} is outside a [{_SECTION}] section") \
            from None
    except configparser.ParsingError as exc:
        lines = ", ".join(str(e[0]) for e in getattr(exc, "errors", ())) or "?"
        raise _config_error(path, f"line {lines} is not 'key = value'") from None
    except (configparser.DuplicateSectionError, configparser.DuplicateOptionError) as exc:
        line = getattr(exc, "lineno", None)
        raise _config_error(path, "a section or key is given twice"
                            + (f" (line {line})" if line else "")) from None
    except configparser.Error:
        raise _config_error(path, "cannot be parsed") from None
    unknown = [s for s in parser.sections() if s != _SECTION]
    if parser.defaults():  # keys under a header spelt like the internal default section
        unknown.insert(0, "?")
    if unknown:
        raise _config_error(path, f"unknown section [{unknown[0]}] (only [{_SECTION}] with "
                            f"{_KEY} is understood)")
    if not parser.has_section(_SECTION):
        return None
    keys = [k for k in parser.options(_SECTION) if k != _KEY]
    if keys:
        raise _config_error(path, f"unknown key {keys[0]!r} in [{_SECTION}] (only {_KEY} "
                            "is understood)")
    value = parser.get(_SECTION, _KEY, fallback=None)
    where = f"configuration file {path!r}: [{_SECTION}] {_KEY}"
    return None if value is None else _switch(value, where)


def fallback_setting(environ: Mapping[str, str] | None = None) -> FallbackSetting:
    """Read the deployment switch of the emulated-card fallback (it fails closed).

    The sources: :data:`FALLBACK_ENV`, :data:`DEFAULT_CONFIG` (always, when it exists) and
    the file named by :data:`CONFIG_ENV` (besides, not instead of, the system file).  Any
    source saying off switches the fallback off; no source can switch it back on.

    :param environ: the environment (default :data:`os.environ`).
    :raises UsageError: a value that is not on/off; a named file that is missing; a system
        file that is a dangling symbolic link or cannot be read; a file that is not a
        regular file, not UTF-8, does not parse, or holds another section or key than
        ``[connect] emulated_fallback`` (the message names the file).
    """
    env = os.environ if environ is None else environ
    offs: list[str] = []
    sources: list[str] = []
    value = env.get(FALLBACK_ENV, "")
    if value.strip():
        sources.append(FALLBACK_ENV)
        if not _switch(value, FALLBACK_ENV):
            offs.append(f"{FALLBACK_ENV}={value.strip()}")
    named = env.get(CONFIG_ENV) or None
    seen: set[str] = set()
    for path, is_named in ((DEFAULT_CONFIG, False), (named, True)):
        if path is None or os.path.realpath(path) in seen:
            continue
        seen.add(os.path.realpath(path))
        text = _read_config_text(path, is_named)
        if text is None:
            continue
        setting = _parse_config(path, text)
        if setting is None:
            continue
        sources.append(path)
        if not setting:
            offs.append(path)
    return FallbackSetting(not offs, offs[0] if offs else None, tuple(sources))


def fallback_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """May a command fall back to the emulated card when no reader can be used?

    :returns: :attr:`FallbackSetting.enabled` of :func:`fallback_setting`.
    :raises UsageError: see :func:`fallback_setting`.
    """
    return fallback_setting(environ).enabled


PcscFactory = Callable[..., Transport]


def new_emulated_card(profile: str | os.PathLike[str] = EMULATED_PROFILE) -> CardOS:
    """A fresh emulated card from ``profile`` (a name in ``vectors/cards`` or a path).

    The profile is read with the emulator's bounds
    (:func:`jukicard.emulator.profile.load_profile`: a regular file of at most 8 MiB).
    Tests replace this function (``monkeypatch``) to share one card between commands.

    :raises UsageError: the profile cannot be loaded (``option`` ``--profile``, ``path``).
    """
    try:
        return CardOS(load_profile(profile))
    except ProfileError as exc:
        raise InputError(f"--profile: {exc}", option="--profile", path=profile) from None


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
    fallback: bool = False,
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
        when no reader can be used at all — and only when the deployment allows it
        (:func:`fallback_setting`).  Default ``False``: a library caller gets the test card
        only when it asks for it.
    :param notify: told :data:`FALLBACK_NOTICE` when falling back (default: a log warning).
    :param trace: wrap the transport in a redacting :class:`TracingTransport`.
    :param pcsc_factory: builds the PC/SC transport (default :class:`PcscTransport`; tests
        pass a fake).
    :returns: an open transport; close it (or use it as a context manager) when done.
    :raises UsageError: both a reader and the emulated card were asked for; bad profile; a
        broken deployment switch when a fallback was about to happen.
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
    fallback: bool = False,
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
            setting = fallback_setting()
            if not setting.enabled:
                log.info("no PC/SC reader usable; the fallback to the emulated card is "
                         "switched off (%s)", setting.switched_off_by)
                raise
            log.info("no PC/SC reader usable (%s); falling back to the emulated card", exc)
            (notify or log.warning)(FALLBACK_NOTICE)
            inner = emulated_transport(None)
            fell_back = True
    given = None if profile is None else os.fspath(profile)
    source = card_source(inner, fallback=fell_back, name=given)
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


def card_source(transport: Any, *, fallback: bool = False,
                name: str | None = None) -> CardSource:
    """The :class:`CardSource` of an open transport (tracing wrappers are looked through).

    :param fallback: record that the emulated card stands in for a missing reader.
    :param name: for the emulated card, the profile as the caller named it (a path given
        with ``--profile``); default: the profile's own name.
    """
    inner = unwrap(transport)
    if isinstance(inner, LoopbackTransport):
        profile = getattr(getattr(inner.card, "profile", None), "name", None)
        return CardSource("emulated", name or profile, fallback, profile)
    return CardSource("reader", getattr(inner, "reader", None) or type(inner).__name__)


def describe_transport(transport: Any) -> str:
    """A short description of where the card is: ``"reader 'NAME'"`` or
    ``"emulated card 'mynumber-01'"``."""
    return str(card_source(transport))
