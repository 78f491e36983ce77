"""Commands that read data off the card: ``mynumber``, ``basic-info``, ``cert export``.

``mynumber`` and ``basic-info`` print personal data, on stdout only, because the command
asks for it; nothing of it is logged.  PIN order for ``--pin-stdin``: one line, the text-AP
PIN (``basic-info --match-b``: 照合番号B; ``cert export sign``: the sign password).
"""

from __future__ import annotations

import argparse
import base64
import os
import sys

from jukicard.card.dataobjects import BasicInfo
from jukicard.cli._common import (
    card_parent,
    find_or_add_group,
    interaction_from_args,
    notice,
    open_from_args,
    pin_parent,
    print_json,
    write_file_atomic,
)
from jukicard.errors import UsageError
from jukicard.services.data import (
    CERT_IDS,
    export_certificate,
    read_basic_info,
    read_my_number,
    read_verified,
    to_pem,
)

__all__ = ["register", "cmd_mynumber", "cmd_basic_info", "cmd_cert_export"]

_SEX = {1: "male", 2: "female", 9: "not applicable"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "mynumber", parents=[card_parent(), pin_parent("the text-AP PIN")],
        help="print the My Number (asks the 4-digit 券面事項入力補助 PIN)",
        description="Read the My Number (個人番号) from the 券面事項入力補助AP.  Personal "
        "data: printed on stdout only, never logged.",
    )
    p.add_argument("--check-signature", action=argparse.BooleanOptionalAction, default=True,
                   help="also read the 基本4情報 and check both against the card's signature, "
                   "so tampered data is reported (default: on)")
    p.set_defaults(func=cmd_mynumber)

    p = subparsers.add_parser(
        "basic-info", parents=[card_parent(), pin_parent("the text-AP PIN (or 照合番号B)")],
        help="print the 基本4情報: name, address, birth date, sex",
        description="Read the 基本4情報 from the 券面事項入力補助AP.  Personal data: printed "
        "on stdout only, never logged.",
    )
    p.add_argument("--match-b", action="store_true",
                   help="unlock with 照合番号B (birth YYMMDD + expiry year + security code) "
                   "instead of the 4-digit PIN")
    p.add_argument("--check-signature", action=argparse.BooleanOptionalAction, default=None,
                   help="check the data against the card's signature (default: on with the "
                   "4-digit PIN; not possible with 照合番号B, which does not unlock the My "
                   "Number the signature also covers)")
    p.set_defaults(func=cmd_basic_info)

    cert = find_or_add_group(subparsers, "cert", "certificates: export from the card, verify")
    p = cert.add_parser(
        "export", parents=[card_parent(), pin_parent("the sign password (sign only)")],
        help="write a JPKI certificate from the card (PEM or DER)",
        description="Read a certificate from the card's JPKI AP.  'sign' needs the sign "
        "password and holds personal data (name, address).",
    )
    p.add_argument("which", choices=CERT_IDS, help="which certificate")
    p.add_argument("--format", choices=("pem", "der"), default="pem",
                   help="output encoding (default pem)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE instead of stdout (DER to stdout needs -o -)")
    p.set_defaults(func=cmd_cert_export)


def _basic_json(info: BasicInfo) -> dict[str, object]:
    sex = info.sex
    return {
        "name": info.name,
        "address": info.address,
        "birth": info.birth.isoformat(),
        "sex": _SEX.get(sex.value, str(sex.value)),
        "sex_code": sex.value,
    }


def cmd_mynumber(args: argparse.Namespace) -> int:
    interaction = interaction_from_args(args)
    with open_from_args(args) as transport:
        if args.check_signature:
            number, _basic = read_verified(transport, interaction)
        else:
            number = read_my_number(transport, interaction)
    if args.json:
        out: dict[str, object] = {"my_number": number.digits}
        out["signature_checked"] = bool(args.check_signature)
        print_json(out)
    else:
        print(number.digits)
    return 0


def cmd_basic_info(args: argparse.Namespace) -> int:
    if args.check_signature and args.match_b:
        raise UsageError("--check-signature needs the 4-digit PIN, not 照合番号B")
    if args.check_signature is None:
        args.check_signature = not args.match_b
    interaction = interaction_from_args(args)
    with open_from_args(args) as transport:
        if args.check_signature:
            _number, info = read_verified(transport, interaction)
        else:
            info = read_basic_info(transport, interaction, match_b=args.match_b)
    data = _basic_json(info)
    if args.json:
        data["signature_checked"] = bool(args.check_signature)
        print_json(data)
    else:
        print(f"name:    {data['name']}")
        print(f"address: {data['address']}")
        print(f"birth:   {data['birth']}")
        print(f"sex:     {data['sex']}")
    return 0


def _write(output: str | None, payload: bytes, binary: bool) -> None:
    if output is None or output == "-":
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:
            buffer.write(payload)
            buffer.flush()
        else:  # a text-only stdout (tests): PEM is ASCII
            sys.stdout.write(payload.decode("ascii") if not binary else payload.hex())
        return
    write_file_atomic(output, payload)  # whole or not at all


def cmd_cert_export(args: argparse.Namespace) -> int:
    to_stdout = args.output is None or args.output == "-"
    if args.format == "der" and args.output is None and not args.json:
        raise UsageError("refusing to write DER to stdout; use -o FILE (or -o - to force)")
    interaction = interaction_from_args(args)
    with open_from_args(args) as transport:
        der = export_certificate(transport, args.which, interaction)
    payload = der if args.format == "der" else to_pem(der)
    if args.json:
        out: dict[str, object] = {"certificate": args.which, "format": args.format,
                                  "bytes": len(payload)}
        if to_stdout:
            if args.format == "pem":
                out["pem"] = payload.decode("ascii")
            else:
                out["der_base64"] = base64.b64encode(payload).decode("ascii")
        else:
            _write(args.output, payload, args.format == "der")
            out["output"] = os.fspath(args.output)
        print_json(out)
        return 0
    _write(args.output, payload, args.format == "der")
    if not to_stdout:
        notice(f"{args.which} certificate written to {args.output} ({args.format})")
    return 0
