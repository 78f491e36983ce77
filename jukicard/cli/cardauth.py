"""``jukicard card authenticate``: does the card prove itself? (issue 11, part C)

The card signs a fresh challenge with the key its signed records carry; the records are
checked up to a J-LIS CV CA key (bundled: :mod:`jukicard.card.cvca`).  Under the default
production policy only production J-LIS keys are trusted: a card certified by a test CV CA
(every emulated card) fails with exit 5 unless ``--allow-test-keys`` (and, for the
emulated card, ``--ca-key vectors/pki/cv/jlis-root.cvc``).  Exit codes are the CLI's: 0
genuine, 2 usage, 3 wrong PIN, 4 the card refused, 5 the card failed to prove itself (an
untrusted CV CA, a cloned card, tampered data), 6 reader problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from jukicard.cli._common import (
    JukiCommand,
    card_options,
    interaction,
    out,
    pin_stdin_option,
    state,
)
from jukicard.cli._text import lines, source_text

if TYPE_CHECKING:
    from jukicard.cli._common import CardSelection
    from jukicard.services.connect import CardSource
    from jukicard.services.genuineness import GenuinenessReport

__all__ = ["authenticate", "format_report", "trust_options"]

_AP_NAMES = {"visual": "券面事項確認AP", "text": "券面事項入力補助AP"}
_DEFAULT_CREDENTIAL = {"visual": "match-b", "text": "pin"}
#: How the text output names ``ca_source`` (CARDAUTH-6).
_SOURCES = {"bundled": ", bundled", "caller": ", from --ca-key"}


def trust_options(f: Any) -> Any:
    """``--allow-test-keys`` and ``--ca-key FILE`` (the J-LIS CV CA trust set), shared by
    the commands that check a card's CV certificate (``card authenticate``,
    ``card-face``)."""
    f = click.option("--ca-key", "ca_keys", multiple=True, metavar="FILE",
                     help="a further trusted CV CA: a self-issued CV certificate (.cvc); "
                     "trusted as a test key (needs --allow-test-keys) unless it is a "
                     "bundled J-LIS key")(f)
    return click.option("--allow-test-keys", is_flag=True,
                        help="also trust test CV CA keys (J-LIS test hierarchy, --ca-key "
                        "test keys)")(f)


def format_report(report: GenuinenessReport, source: CardSource | None = None) -> str:
    """The text output (no personal data; the card id number is not a secret, ID-5).

    :param source: where the card came from (marks the emulated TEST card).
    """
    data = report.to_json()
    verdict = "genuine" if data["genuine"] else "NOT verified to a J-LIS CV CA"
    if data["genuine"] and data["ca_kind"] != "production":
        verdict = "genuine TEST card: certified by a test CV CA, not a resident's card"
    rows = [
        f"card authentication: {data['result']} ({verdict})",
        f"application: {_AP_NAMES.get(data['application'], data['application'])}",
        f"CV CA key: {data['ca_key_name']} ({data['ca_kind'] or 'unchecked'}"
        f"{_SOURCES.get(data['ca_source'], '')})",
        f"policy: {data['policy']}",
    ]
    if source is not None:
        rows.append(f"card: {source_text(source)}")
    ident = data["identity"]
    if ident is not None:
        rows += [f"card identification number: {ident['card_id'] or '-'}",
                 f"municipality code: {ident['municipality'] or '-'}",
                 f"expiry: {ident['expiry'] or '-'}"]
    return lines(rows)


@click.command("authenticate", cls=JukiCommand,
               short_help="check that the card is genuine (card authentication)",
               help="Have the card sign a fresh challenge with the key its signed records "
               "carry, and check the records up to a J-LIS CV CA key.  Under the default "
               "production policy a card certified by a test CV CA (every emulated card) "
               "fails with exit 5.  JSON: \"genuine\", \"result\" (verified-to-jlis-ca / "
               "self-consistent-only), \"application\", \"ca_key_id\", \"ca_kind\", "
               "\"ca_source\" (bundled: a J-LIS key jukicard ships; caller: a --ca-key), "
               "\"policy\", \"identity\".")
@card_options(fallback=True)
@pin_stdin_option("the credential (照合番号B by default)")
@click.option("--ap", "application", type=click.Choice(["visual", "text"]),
              default="visual", show_default=True, help="the application that proves the card")
@click.option("--credential", type=click.Choice(["match-a", "match-b", "birth", "pin"]),
              default=None, help="what opens the signed records (default: match-b on the "
              "visual AP, the PIN on the text AP)")
@trust_options
def authenticate(card: CardSelection, as_json: bool, pin_stdin: bool, application: str,
                 credential: str | None, allow_test_keys: bool,
                 ca_keys: tuple[str, ...]) -> int:
    from jukicard.services.genuineness import authenticate_card, load_cv_ca_key

    extra = tuple(load_cv_ca_key(p) for p in ca_keys)
    asker = interaction(pin_stdin)
    with card.open() as transport:
        report = authenticate_card(
            transport, asker, application=application,  # type: ignore[arg-type]
            credential=(credential or _DEFAULT_CREDENTIAL[application]),  # type: ignore[arg-type]
            allow_test_keys=allow_test_keys, extra_keys=extra)
    if as_json:
        out().json({**report.to_json(), "card_source": card.source_json()})
    else:
        out().text(format_report(report, state().card_source))
    return 0
