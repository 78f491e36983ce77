"""``jukicard pin status``, ``pin verify`` and ``pin change``.

``pin status`` reads every retry counter with a data-less VERIFY: no counter is touched.
It is a read-only demo command (it may use the built-in card when there is no reader).  A
counter the card reports above the PIN's maximum (``63CF`` for a 3-try PIN) is shown as
the maximum, marked ``!`` and explained in one notice on stderr (JSON:
``"counter_implausible": true``); ``pin verify`` and a wrong-PIN message say it too.

``pin verify PIN`` checks one PIN: the counter is read first (a blocked PIN is never asked
for), the PIN is asked once and sent in ONE VERIFY; exit 0 when correct, 3 when wrong (the
message says how many tries are left) or blocked.

``pin change auth|sign`` asks, in this order (also the line order with ``--pin-stdin``):
the current PIN, then the new PIN (asked twice on a terminal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from jukicard.cli._common import (
    JukiGroup,
    LazyChoice,
    card_options,
    changeable_pin_ids,
    interaction,
    notice,
    out,
    pin_ids,
    pin_label,
    pin_stdin_option,
    state,
)
from jukicard.cli._text import escape
from jukicard.cli.card import source_text
from jukicard.errors import tries_left_text

if TYPE_CHECKING:
    from jukicard.cli._common import CardSelection
    from jukicard.services.pins import PinState

__all__ = ["pin", "status", "verify", "change", "format_status", "IMPLAUSIBLE_NOTICE"]

#: Told once when a counter is marked ``!``: the card reported more tries than the PIN
#: allows (the library clamps it to the maximum and logs it at INFO only).
IMPLAUSIBLE_NOTICE = ("!: the card reported more tries left than this PIN allows; the "
                      "maximum is shown.  The card may be damaged or not genuine: check it "
                      "before relying on it")


@click.group("pin", cls=JukiGroup, help="PIN retry counters, PIN check and PIN change",
             short_help="PIN retry counters, PIN check and PIN change")
def pin() -> None:
    pass


def format_status(states: tuple[PinState, ...]) -> str:
    """Human-readable ``pin status`` table; an impossible counter (clamped) is marked
    ``!`` (explained by :data:`IMPLAUSIBLE_NOTICE`)."""
    rows: list[tuple[str, ...]] = [("PIN", "APP", "TRIES", "STATE", "NAME")]
    for s in states:
        tries = f"{s.retries_left}/{s.max_tries}" if s.max_tries is not None else str(
            s.retries_left)
        if s.counter_implausible:
            tries += "!"
        condition = "BLOCKED" if s.blocked else "ok"
        rows.append(tuple(escape(col) for col in (s.id, s.app, tries, condition, pin_label(s))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(  # each column escaped above (once: escaping doubles backslashes)
        "  ".join(col.ljust(widths[i]) if i < 4 else col for i, col in enumerate(r)).rstrip()
        for r in rows
    )


@pin.command("status", short_help="tries left for every PIN on the card (touches no counter)",
             help="Show the retry counter of every PIN on the card, read with a data-less "
             "VERIFY that never decrements it.")
@card_options(fallback=True)
def status(card: CardSelection, as_json: bool) -> int:
    from jukicard.services.pins import pin_status_all

    with card.open() as transport:
        states = pin_status_all(transport)
    if as_json:
        out().json({"pins": [s.to_json() for s in states], "card_source": card.source_json()})
    else:
        notice(f"card: {source_text(state().card_source)}")
        out().text(format_status(states))
        if any(s.blocked for s in states):
            notice("a blocked PIN can only be reset at the municipal counter "
                   "(a JPKI PIN also at a kiosk, with the other JPKI PIN)")
        if any(s.counter_implausible for s in states):
            notice(IMPLAUSIBLE_NOTICE)
    return 0


@pin.command("verify", short_help="check one PIN (asked once, one VERIFY)",
             help="Check that the resident knows a PIN: the retry counter is read first (a "
             "blocked PIN is not asked for), then the PIN is asked once and sent in one "
             "VERIFY.  Exit 0 when correct; 3 when wrong (tries left in the message) or "
             "blocked.  With --pin-stdin: one line, the PIN.")
@click.argument("pin_id", type=LazyChoice(pin_ids))
@card_options(fallback=False, never_why="checks a PIN (a wrong one uses up a try)")
@pin_stdin_option("the PIN")
def verify(pin_id: str, card: CardSelection, as_json: bool, pin_stdin: bool) -> int:
    from jukicard.services.pins import verify_pin

    asker = interaction(pin_stdin)
    with card.open() as transport:
        state = verify_pin(transport, pin_id, asker)
    if as_json:
        out().json({"pin": pin_id, "verified": True, **state.to_json(),
                    "card_source": card.source_json()})
    else:
        mark = "!" if state.counter_implausible else ""
        out().text(escape(f"{pin_label(state)}: correct "
                          f"({tries_left_text(state.retries_left)}{mark})"))
        if state.counter_implausible:
            notice(IMPLAUSIBLE_NOTICE)
    return 0


@pin.command("change", short_help="change the JPKI auth PIN or sign password",
             help="Change a JPKI PIN.  Asks the current PIN, then the new one (twice on a "
             "terminal).  With --pin-stdin: line 1 = current PIN, line 2 = new PIN.  PIN: "
             "auth = 利用者証明用 PIN (4 digits), sign = 署名用パスワード (6-16 A-Z/0-9).")
@click.argument("pin_id", type=LazyChoice(changeable_pin_ids))
@card_options(fallback=False, never_why="changes a PIN")
@pin_stdin_option("current PIN, new PIN")
def change(pin_id: str, card: CardSelection, as_json: bool, pin_stdin: bool) -> int:
    from jukicard.services.pins import change_pin

    asker = interaction(pin_stdin)
    with card.open() as transport:
        change_pin(transport, pin_id, asker)
    request = getattr(asker, "last_request", None)  # the PIN asked: named as residents know it
    name = pin_label(request.pin) if request is not None else pin_id
    if as_json:
        out().json({"pin": pin_id, "name": name, "changed": True,
                    "card_source": card.source_json()})
    else:
        out().text(escape(f"{name}: changed"))
    return 0
