"""``jukicard pin status`` and ``jukicard pin change``.

``pin status`` reads every retry counter with a data-less VERIFY: no counter is touched.

``pin change auth|sign`` asks, in this order (also the line order with ``--pin-stdin``):
the current PIN, then the new PIN (asked twice on a terminal).
"""

from __future__ import annotations

import argparse

from jukicard.cli._common import (
    card_parent,
    find_or_add_group,
    interaction_from_args,
    notice,
    open_from_args,
    pin_parent,
    print_json,
)
from jukicard.services.pins import CHANGEABLE_PINS, PinState, change_pin, pin_status_all

__all__ = ["register", "cmd_status", "cmd_change", "format_status"]


def register(subparsers: argparse._SubParsersAction) -> None:
    group = find_or_add_group(subparsers, "pin", "PIN retry counters and PIN change")
    p = group.add_parser(
        "status", parents=[card_parent()],
        help="tries left for every PIN on the card (touches no counter)",
        description="Show the retry counter of every PIN on the card, read with a data-less "
        "VERIFY that never decrements it.",
    )
    p.set_defaults(func=cmd_status)
    p = group.add_parser(
        "change", parents=[card_parent(), pin_parent("current PIN, new PIN")],
        help="change the JPKI auth PIN or sign password",
        description="Change a JPKI PIN.  Asks the current PIN, then the new one (twice on a "
        "terminal).  With --pin-stdin: line 1 = current PIN, line 2 = new PIN.",
    )
    p.add_argument("pin", choices=CHANGEABLE_PINS,
                   help="auth = 利用者証明用 PIN (4 digits), "
                   "sign = 署名用パスワード (6-16 A-Z/0-9)")
    p.set_defaults(func=cmd_change)


def format_status(states: tuple[PinState, ...]) -> str:
    """Human-readable ``pin status`` table."""
    rows = [("PIN", "APP", "TRIES", "STATE", "NAME")]
    for s in states:
        tries = f"{s.retries_left}/{s.max_tries}" if s.max_tries is not None else str(
            s.retries_left)
        state = "BLOCKED" if s.blocked else "ok"
        rows.append((s.id, s.app, tries, state, s.name))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(col.ljust(widths[i]) if i < 4 else col for i, col in enumerate(r)).rstrip()
        for r in rows
    )


def cmd_status(args: argparse.Namespace) -> int:
    with open_from_args(args) as transport:
        states = pin_status_all(transport)
    if args.json:
        print_json({"pins": [s.to_json() for s in states]})
    else:
        print(format_status(states))
        if any(s.blocked for s in states):
            notice("a blocked PIN can only be reset at the municipal counter "
                   "(a JPKI PIN also at a kiosk, with the other JPKI PIN)")
    return 0


def cmd_change(args: argparse.Namespace) -> int:
    interaction = interaction_from_args(args)
    with open_from_args(args) as transport:
        change_pin(transport, args.pin, interaction)
    if args.json:
        print_json({"pin": args.pin, "changed": True})
    else:
        print(f"{args.pin} PIN changed")
    return 0
