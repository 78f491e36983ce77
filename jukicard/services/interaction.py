"""How services ask the user for PINs: an injected interaction object (style §16).

A service never reads a terminal, a file or the environment for a PIN.  It describes what
it needs in a :class:`PinRequest` and hands it to the :class:`UserInteraction` it was given:
the CLI supplies a hidden-prompt or stdin implementation, a GUI its own dialog, and tests a
:class:`ScriptedInteraction`.

PIN values pass through these objects only as return values: they are never logged, never
put in messages and never stored beyond the call that uses them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from jukicard.apdu.apps import PinSpec
from jukicard.errors import UsageError, tries_left_text

__all__ = [
    "PinPurpose",
    "PinRequest",
    "UserInteraction",
    "PinPrompt",
    "ScriptedInteraction",
    "NoInteraction",
    "require_interaction",
]

log = logging.getLogger(__name__)

#: ``"verify"``: the PIN unlocks an operation; ``"current"``: the old value in a change;
#: ``"new"``: the value to set.
PinPurpose = Literal["verify", "current", "new"]


@dataclass(frozen=True)
class PinRequest:
    """What a service needs from the user.

    :ivar pin: the PIN's facts (its names, length and charset; never its value).
    :ivar purpose: why it is asked (see :data:`PinPurpose`).
    :ivar retries_left: tries the card has left for this PIN, if known (asked without
        touching the counter), so the prompt can warn the user.
    :ivar confirm: an interactive implementation should ask twice and compare (new PINs).
    """

    pin: PinSpec
    purpose: PinPurpose = "verify"
    retries_left: int | None = None
    confirm: bool = False

    @property
    def length_hint(self) -> str:
        return f"{self.pin.length_text} characters"

    @property
    def prompt(self) -> str:
        """A one-line prompt in the names residents know, e.g.
        ``"利用者証明用電子証明書暗証番号 (user-authentication PIN; 4 characters, 1 try left): "``.
        """
        what = {"verify": "", "current": "current ", "new": "new "}[self.purpose]
        extra = self.length_hint
        if self.retries_left is not None and self.purpose != "new":
            extra += f", {tries_left_text(self.retries_left)}"
        spec = self.pin
        return f"{what}{spec.label_ja} ({spec.label_en}; {extra}): "


@runtime_checkable
class UserInteraction(Protocol):
    """The user-facing side a service talks to."""

    def request_pin(self, request: PinRequest) -> str:
        """Return the PIN the user gives for ``request``.

        :raises UsageError: no PIN can be obtained (no terminal, input ended...).
        :raises KeyboardInterrupt: the user gave up.
        """
        ...

    def info(self, message: str) -> None:
        """Tell the user something (progress, a notice).  Never called with personal data."""
        ...


#: Alias: the PIN-asking protocol.
PinPrompt = UserInteraction


def require_interaction(interaction: object) -> UserInteraction:
    """``interaction`` if it can be asked for PINs.

    :raises UsageError: it has no ``request_pin`` (``None``, a list of PINs...).
    """
    if not callable(getattr(interaction, "request_pin", None)):
        raise UsageError("interaction must be a UserInteraction (with request_pin), got a "
                         f"{type(interaction).__name__}")
    return interaction  # type: ignore[return-value]


class ScriptedInteraction:
    """A :class:`UserInteraction` that answers from a list (tests, unattended scripts).

    :param pins: the answers, in the order the PINs will be asked.
    :ivar requests: every :class:`PinRequest` received, in order.
    :ivar messages: every :meth:`info` message.
    """

    def __init__(self, pins: Iterable[str] = ()) -> None:
        self._pins = list(pins)
        self.requests: list[PinRequest] = []
        self.messages: list[str] = []

    @property
    def remaining(self) -> int:
        """Answers not used yet."""
        return len(self._pins)

    def request_pin(self, request: PinRequest) -> str:
        self.requests.append(request)
        if not self._pins:
            raise UsageError(f"no PIN left to answer the request for the {request.pin.label}")
        return self._pins.pop(0)

    def info(self, message: str) -> None:
        self.messages.append(message)


class NoInteraction:
    """A :class:`UserInteraction` for code paths that must not need a PIN."""

    def request_pin(self, request: PinRequest) -> str:
        raise UsageError(f"the {request.pin.label} is needed but nobody can be asked for it")

    def info(self, message: str) -> None:
        log.info("%s", message)
