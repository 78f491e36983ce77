"""``jukicard card info``: card type, applications, JPKI token, public certificates.

No PIN is asked and no personal data is shown (the JPKI sign certificate is listed as
protected, not read).  A read-only demo command: with no reader at all it may use the
built-in emulated card (see :mod:`jukicard.cli._common`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from jukicard.cli._common import JukiGroup, card_options, out, state
from jukicard.cli._text import TEST_CARD, lines, source_text

if TYPE_CHECKING:
    from jukicard.cli._common import CardSelection
    from jukicard.services.connect import CardSource
    from jukicard.services.info import CardInfo, CertificateSummary

__all__ = ["card", "info", "format_info", "source_text", "TEST_CARD"]

@click.group("card", cls=JukiGroup, help="card information",
             short_help="card information")
def card() -> None:
    pass


def _cert_lines(cert: CertificateSummary, info: CardInfo) -> list[str]:
    head = f"  {cert.id:<8} EF {cert.ef:04X}  "
    if not cert.read:
        return [head + cert.note]
    valid = cert.valid_at(info.at)
    state = "valid now" if valid else "NOT valid now"
    nb = cert.not_before.date().isoformat() if cert.not_before else "?"
    na = cert.not_after.date().isoformat() if cert.not_after else "?"
    pad = " " * 20
    return [
        head + f"subject {cert.subject}",
        pad + f"issuer  {cert.issuer}",
        pad + f"valid   {nb} .. {na} ({state})",
        pad + f"serial  {cert.serial}  key {cert.key}",
        pad + f"sha256  {cert.sha256}",
    ]


def format_info(info: CardInfo, source: CardSource | None = None) -> str:
    """Human-readable ``card info`` output; every line escaped (card data may carry
    terminal control sequences).

    :param source: where the card came from (names the path given with ``--profile`` and
        marks the TEST card); default: :attr:`CardInfo.source`.
    """
    rows = [
        f"card:         {info.card_label}",
        f"source:       {source_text(source, info.source)}",
        f"ATR:          {info.atr.hex(' ').upper()}",
        f"JPKI token:   {info.token or '-'}",
        "applications:",
    ]
    ident = info.identity
    if ident is not None:
        rows[3:3] = [f"card ID:      {ident.card_id or '-'} (card identification number)",
                     f"municipality: {ident.municipality or '-'}",
                     f"expiry:       {ident.expiry or '-'}"]
    width = max((len(app.aid) * 2 for app in info.applications), default=0)
    for app in info.applications:
        flag = "" if app.verified_layout else "  (unverified layout)"
        rows.append(f"  {app.name:<8} {app.aid.hex().upper():<{width}}  {app.label}{flag}")
    if info.certificates:
        rows.append("certificates:")
        for cert in info.certificates:
            rows += _cert_lines(cert, info)
    return lines(rows)


@card.command("info", short_help="card type, applications, token, certificate subjects and "
              "validity",
              help="Identify the card (by SELECTing its applications) and show its public "
              "JPKI certificates and, on a My Number card, its card identification number, "
              "municipality code and expiry (JSON \"identity\", null when not read).  Asks "
              "no PIN and shows no personal data.")
@card_options(fallback=True)
def info(card: CardSelection, as_json: bool) -> int:
    from jukicard.services.info import card_info

    with card.open() as transport:
        result = card_info(transport)
    if as_json:
        out().json({**result.to_json(), "card_source": card.source_json()})
    else:
        out().text(format_info(result, state().card_source))
    return 0


def _register() -> None:
    """``card authenticate`` (issue 11, part C) lives in :mod:`jukicard.cli.cardauth`."""
    from jukicard.cli.cardauth import authenticate

    card.add_command(authenticate)


_register()
