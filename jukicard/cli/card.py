"""``jukicard card info``: card type, applications, JPKI token, public certificates.

No PIN is asked and no personal data is shown (the JPKI sign certificate is listed as
protected, not read).
"""

from __future__ import annotations

import argparse
import sys

from jukicard.cli._common import card_parent, find_or_add_group, open_from_args, print_json
from jukicard.services.info import CardInfo, CertificateSummary, card_info

__all__ = ["register", "cmd_info", "format_info"]


def register(subparsers: argparse._SubParsersAction) -> None:
    group = find_or_add_group(subparsers, "card", "card information")
    p = group.add_parser(
        "info", parents=[card_parent()],
        help="card type, applications, token, certificate subjects and validity",
        description="Identify the card (by SELECTing its applications) and show its public "
        "JPKI certificates.  Asks no PIN and shows no personal data.",
    )
    p.set_defaults(func=cmd_info)


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


def format_info(info: CardInfo) -> str:
    """Human-readable ``card info`` output."""
    lines = [
        f"card:         {info.card_label}",
        f"source:       {info.source}",
        f"ATR:          {info.atr.hex(' ').upper()}",
        f"JPKI token:   {info.token or '-'}",
        "applications:",
    ]
    for app in info.applications:
        flag = "" if app.verified_layout else "  (unverified layout)"
        lines.append(f"  {app.name:<8} {app.aid.hex().upper()}  {app.label}{flag}")
    if info.certificates:
        lines.append("certificates:")
        for cert in info.certificates:
            lines += _cert_lines(cert, info)
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    with open_from_args(args) as transport:
        info = card_info(transport)
    if args.json:
        print_json(info.to_json())
    else:
        print(format_info(info), file=sys.stdout)
    return 0
