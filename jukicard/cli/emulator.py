"""``jukicard emulator``: the emulated test cards.

* ``emulator profiles``: list the card profiles in ``vectors/cards`` (all synthetic);
* ``emulator serve --profile NAME [...]``: serve one to vsmartcard's vpcd (same options as
  ``python -m jukicard.emulator``).
"""

from __future__ import annotations

import argparse

from jukicard.cli._common import find_or_add_group, json_parent, print_json
from jukicard.emulator.profile import ProfileError, load_profile, profile_dir

__all__ = ["register", "cmd_profiles", "cmd_serve"]


def register(subparsers: argparse._SubParsersAction) -> None:
    group = find_or_add_group(subparsers, "emulator", "emulated test cards (synthetic)")
    p = group.add_parser("profiles", parents=[json_parent()],
                         help="list the emulated card profiles")
    p.set_defaults(func=cmd_profiles)
    p = group.add_parser(
        "serve", help="serve an emulated card to vpcd (as python -m jukicard.emulator)",
        description="Serve an emulated card to vsmartcard's vpcd until SIGTERM/Ctrl-C.",
    )
    p.add_argument("--profile", required=True, metavar="NAME|PATH",
                   help="card profile (vectors/cards/NAME.json or a path)")
    p.add_argument("--host", help="vpcd host (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="vpcd port (default 35963)")
    p.add_argument("--reconnect", action="store_true",
                   help="reconnect in a loop when vpcd is not up or goes away")
    p.add_argument("--short-apdu", action="store_true",
                   help="refuse extended-length APDUs with 6700")
    p.add_argument("--atr", metavar="HEX", help="ATR override")
    p.add_argument("--challenge-seed", type=int, metavar="N",
                   help="make GET CHALLENGE deterministic")
    p.set_defaults(func=cmd_serve)


def cmd_profiles(args: argparse.Namespace) -> int:
    rows = []
    for path in sorted(profile_dir().glob("*.json")):
        try:
            prof = load_profile(path)
        except ProfileError as exc:
            rows.append({"name": path.stem, "error": str(exc)})
            continue
        rows.append({"name": path.stem, "card_type": prof.card_type,
                     "description": prof.description})
    if args.json:
        print_json({"profiles": rows})
    else:
        for row in rows:
            detail = row.get("error") or f"{row['card_type']}: {row['description']}"
            print(f"{row['name']:<20} {detail}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from jukicard.emulator.__main__ import main as emulator_main

    argv = ["--profile", args.profile]
    if args.host is not None:
        argv += ["--host", args.host]
    if args.port is not None:
        argv += ["--port", str(args.port)]
    if args.reconnect:
        argv.append("--reconnect")
    if args.short_apdu:
        argv.append("--short-apdu")
    if args.atr is not None:
        argv += ["--atr", args.atr]
    if args.challenge_seed is not None:
        argv += ["--challenge-seed", str(args.challenge_seed)]
    return emulator_main(argv)
