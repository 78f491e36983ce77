"""Commands that read personal data off the card: ``mynumber`` and ``basic-info``.

They print personal data, on stdout only, because the command asks for it; nothing of it is
logged.  They never use the built-in test card without ``--emulated``.  PIN order for
``--pin-stdin``: one line, the text-AP PIN (``basic-info --match-b``: 照合番号B).
(``cert export`` lives with the other certificate commands in :mod:`jukicard.cli.cert`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from jukicard.cli._common import JukiCommand, card_options, interaction, out, pin_stdin_option
from jukicard.errors import UsageError

if TYPE_CHECKING:
    from jukicard.card import BasicInfo
    from jukicard.cli._common import CardSelection

__all__ = ["mynumber", "basic_info"]

_SEX = {1: "male", 2: "female", 9: "not applicable"}


def _basic_json(info: BasicInfo) -> dict[str, object]:
    sex = info.sex
    return {
        "name": info.name,
        "address": info.address,
        "birth": info.birth.isoformat(),
        "sex": _SEX.get(sex.value, str(sex.value)),
        "sex_code": sex.value,
    }


@click.command("mynumber", cls=JukiCommand, short_help="print the My Number (asks the 4-digit "
               "券面事項入力補助 PIN)",
               help="Read the My Number (個人番号) from the 券面事項入力補助AP.  Personal data: "
               "printed on stdout only, never logged.")
@card_options(fallback=False)
@pin_stdin_option("the text-AP PIN")
@click.option("--check-signature/--no-check-signature", default=True,
              help="also read the 基本4情報 and check both against the card's signature, so "
              "tampered data is reported (default: on)")
def mynumber(card: CardSelection, as_json: bool, pin_stdin: bool,
             check_signature: bool) -> int:
    from jukicard.services.data import read_my_number, read_verified

    asker = interaction(pin_stdin)
    check = "not-checked"
    with card.open() as transport:
        if check_signature:
            verified = read_verified(transport, asker)
            number, check = verified.my_number, str(verified.signature_check)
        else:
            number = read_my_number(transport, asker)
    if as_json:
        out().json({"my_number": number.digits, "signature_checked": check_signature,
                    "signature_check": check, "card_source": card.source_json()})
    else:
        out().text(number.digits)
    return 0


@click.command("basic-info", cls=JukiCommand,
               short_help="print the 基本4情報: name, address, birth date, sex",
               help="Read the 基本4情報 from the 券面事項入力補助AP.  Personal data: printed on "
               "stdout only, never logged.")
@card_options(fallback=False)
@pin_stdin_option("the text-AP PIN (or 照合番号B)")
@click.option("--match-b", is_flag=True,
              help="unlock with 照合番号B (birth YYMMDD + expiry year + security code) instead "
              "of the 4-digit PIN")
@click.option("--check-signature/--no-check-signature", default=None,
              help="check the data against the card's signature (default: on with the 4-digit "
              "PIN; not possible with 照合番号B, which does not unlock the My Number the "
              "signature also covers)")
def basic_info(card: CardSelection, as_json: bool, pin_stdin: bool, match_b: bool,
               check_signature: bool | None) -> int:
    from jukicard.services.data import read_basic_info, read_verified

    if check_signature and match_b:
        raise UsageError("--check-signature needs the 4-digit PIN, not 照合番号B")
    checked = not match_b if check_signature is None else check_signature
    asker = interaction(pin_stdin)
    check = "not-checked"
    with card.open() as transport:
        if checked:
            verified = read_verified(transport, asker)
            info, check = verified.basic_info, str(verified.signature_check)
        else:
            info = read_basic_info(transport, asker, match_b=match_b)
    data = _basic_json(info)
    if as_json:
        out().json({**data, "signature_checked": checked, "signature_check": check,
                    "card_source": card.source_json()})
    else:
        for key in ("name", "address", "birth", "sex"):
            out().text(f"{key + ':':<8} {data[key]}")
    return 0
