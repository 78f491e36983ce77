"""``jukicard emulator``: the emulated test cards.

* ``emulator profiles``: list the card profiles in ``vectors/cards`` (all synthetic);
* ``emulator serve --profile NAME [...]``: serve one to vsmartcard's vpcd (same options and
  exit codes as ``python -m jukicard.emulator``: 2 for a profile that cannot be loaded or a
  bad ``--atr``/``--port``); every line the emulator prints for the operator is escaped
  like the CLI's own text (:func:`jukicard.cli._text.escape`).
"""

from __future__ import annotations

import click

from jukicard.cli._common import JukiGroup, json_option, out
from jukicard.cli._text import escape

__all__ = ["emulator", "profiles", "serve"]


@click.group("emulator", cls=JukiGroup, help="emulated test cards (synthetic)",
             short_help="emulated test cards (synthetic)")
def emulator() -> None:
    pass


@emulator.command("profiles", help="list the emulated card profiles")
@json_option()
def profiles(as_json: bool) -> int:
    from jukicard.emulator.profile import ProfileError, load_profile, profile_dir

    rows: list[dict[str, str]] = []
    for path in sorted(profile_dir().glob("*.json")):
        try:
            prof = load_profile(path)
        except ProfileError as exc:
            rows.append({"name": path.stem, "error": str(exc)})
            continue
        rows.append({"name": path.stem, "card_type": prof.card_type,
                     "description": prof.description})
    if as_json:
        out().json({"profiles": rows})
    else:
        for row in rows:
            detail = row.get("error") or f"{row['card_type']}: {row['description']}"
            out().text(escape(f"{row['name']:<20} {detail}"))
    return 0


@emulator.command("serve", short_help="serve an emulated card to vpcd (as python -m "
                  "jukicard.emulator)",
                  help="Serve an emulated card to vsmartcard's vpcd until SIGTERM/Ctrl-C.")
@click.option("--profile", required=True, metavar="NAME|PATH",
              help="card profile (vectors/cards/NAME.json or a path)")
@click.option("--host", help="vpcd host (default 127.0.0.1)")
@click.option("--port", type=click.IntRange(1, 65535), help="vpcd port (default 35963)")
@click.option("--reconnect", is_flag=True,
              help="reconnect in a loop when vpcd is not up or goes away")
@click.option("--short-apdu", is_flag=True, help="refuse extended-length APDUs with 6700")
@click.option("--atr", metavar="HEX",
              help="ATR override: 2-33 bytes of hex starting with 3B or 3F")
@click.option("--challenge-seed", type=int, metavar="N",
              help="make GET CHALLENGE deterministic")
@click.option("--log-level", "emulator_log_level",
              type=click.Choice(("DEBUG", "INFO", "WARNING", "ERROR"), case_sensitive=False),
              help="the emulator's log level (default WARNING)")
@click.option("--stats-file", metavar="PATH",
              help="keep the card's counters (JSON) in PATH, rewritten after every APDU")
def serve(profile: str, host: str | None, port: int | None, reconnect: bool, short_apdu: bool,
          atr: str | None, challenge_seed: int | None, emulator_log_level: str | None,
          stats_file: str | None) -> int:
    from jukicard.emulator.__main__ import main as emulator_main

    argv = ["--profile", profile]
    if host is not None:
        argv += ["--host", host]
    if port is not None:
        argv += ["--port", str(port)]
    if reconnect:
        argv.append("--reconnect")
    if short_apdu:
        argv.append("--short-apdu")
    if atr is not None:
        argv += ["--atr", atr]
    if challenge_seed is not None:
        argv += ["--challenge-seed", str(challenge_seed)]
    if emulator_log_level is not None:
        argv += ["--log-level", emulator_log_level.upper()]
    if stats_file is not None:
        argv += ["--stats-file", stats_file]
    try:
        # every operator line the emulator prints is escaped like the CLI's own text
        return emulator_main(argv, render=escape)
    except SystemExit as exc:  # argparse's own usage errors
        return exc.code if isinstance(exc.code, int) else 2
