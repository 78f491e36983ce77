"""The **jukicard protocol** as a use case: open the key token, mutually authenticate card and
system, work under secure messaging.

The jukicard protocol is our own (``docs/jukicard-protocol.md``; decisions JP-1..JP-9 in
:mod:`jukicard.card.mutual`); it is NOT 住基ネット's.  This module wires the card layer's
:class:`~jukicard.card.mutual.KeyOps` to :class:`jukicard.keys.KeySession`: the master key
and the per-card keys stay in the PKCS#11 token (module path, token label, PIN source are
settings: :class:`jukicard.keys.TokenSettings`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jukicard.apdu.apps import App, Application
from jukicard.card.mutual import (
    KEY_INFO_EF,
    PROTOCOL_NAME,
    JukicardProtocolSession,
    KeyInfo,
)
from jukicard.errors import JukicardSecureMessagingError, UsageError
from jukicard.keys import KeySession, KeyStore, TokenSettings
from jukicard.keys.init import DEFAULT_MASTER_LABEL  # the master key's label by default
from jukicard.transport.base import Transport

__all__ = [
    "DEFAULT_MASTER_LABEL",
    "ProtocolSettings",
    "MutualAuthResult",
    "protocol_application",
    "protocol_session",
    "mutual_authenticate",
]

log = logging.getLogger(__name__)


def protocol_application(name: str) -> Application:
    """The application called *name* (``juki``, ``jpki``, ...) to run the protocol on.

    :raises UsageError: no such application.
    """
    for app in App:
        if app.application.name == name:
            return app.application
    names = ", ".join(a.application.name for a in App)
    raise UsageError(f"unknown application {name!r} (one of {names})")


@dataclass(frozen=True)
class ProtocolSettings:
    """Where the keys are and which application speaks the protocol.

    :param token: the PKCS#11 token (module, label, PIN source).
    :param master_label: the master key's label in the token.
    :param application: the application configured for the protocol (default 住基AP).
    """

    token: TokenSettings
    master_label: str = DEFAULT_MASTER_LABEL
    application: str = "juki"


@dataclass(frozen=True)
class MutualAuthResult:
    """What a mutual authentication established (no key, no challenge, no personal data)."""

    application: str
    card_id: str
    token_label: str
    master_label: str
    sm_check: bool

    def to_json(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL_NAME, "result": "mutually-authenticated",
                "application": self.application, "card_id": self.card_id,
                "token_label": self.token_label, "master_label": self.master_label,
                "secure_messaging_check": "ok" if self.sm_check else "failed"}


@contextmanager
def protocol_session(
    transport: Transport, settings: ProtocolSettings, *, card_id: str | None = None,
    rng: Callable[[int], bytes] | None = None, keys: KeySession | None = None,
) -> Iterator[JukicardProtocolSession]:
    """An authenticated :class:`JukicardProtocolSession`, closed on exit.

    :param keys: an open key session to use (default: open one from ``settings.token``
        for the duration).
    :raises KeyStoreError: (or a subclass) the token could not be used.
    :raises MutualAuthenticationError: / ...: see
        :meth:`JukicardProtocolSession.authenticate`.
    """
    app = protocol_application(settings.application)
    with _key_session(keys, settings.token) as ks:
        master = ks.key(settings.master_label)
        session = JukicardProtocolSession(transport, application=app)
        try:
            session.authenticate(ks, master, card_id=card_id, rng=rng)
            yield session
        finally:
            session.close()


@contextmanager
def _key_session(keys: KeySession | None, token: TokenSettings) -> Iterator[KeySession]:
    """*keys* as it is, or a key session opened (and closed) for the block."""
    if keys is not None:
        yield keys
        return
    with KeyStore.open(token) as opened:
        yield opened


def mutual_authenticate(
    transport: Transport, settings: ProtocolSettings, *, card_id: str | None = None,
    rng: Callable[[int], bytes] | None = None, keys: KeySession | None = None,
) -> MutualAuthResult:
    """Authenticate card and system, then read the key-information EF under secure
    messaging as a check that the channel works (and names the same card).

    :raises JukicardSecureMessagingError: the protected read does not match.
    (and the errors of :func:`protocol_session`)
    """
    with protocol_session(transport, settings, card_id=card_id, rng=rng, keys=keys) as session:
        info = KeyInfo.parse(session.read_ef(KEY_INFO_EF, limit=256))
        used = session.card_id
        if info.card_id != used:
            raise JukicardSecureMessagingError(
                "the card's protected key information names another card")
    return MutualAuthResult(settings.application, used, settings.token.token_label,
                            settings.master_label, True)
