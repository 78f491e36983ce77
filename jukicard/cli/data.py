"""Commands that read personal data off the card: ``mynumber`` and ``basic-info``.

They print personal data, on stdout only, because the command asks for it; nothing of it is
logged.  They never use the built-in test card without ``--emulated``.  PIN order for
``--pin-stdin``: one line, the text-AP PIN (``basic-info --match-b``: 照合番号B).
(``cert export`` lives with the other certificate commands in :mod:`jukicard.cli.cert`.)

What the signature check proved (the JSON fields, described in the commands' help):
``signature_checked`` is true when a check ran; ``signature_check`` says against what:
``"card-key-only"`` (the key in the card's own CV certificate: the data is not damaged or
altered since it was signed, but a forged card brings its own key), ``"trusted-issuer"``
(with ``--issuer-key``: the card's CV certificate also verifies under that trusted issuer
key, so the data was signed by a key the issuer certified; data signed by any other key
fails with exit 5) or ``"not-checked"``.  Neither proves that this physical card is the
card the data was written to: a byte-for-byte copy of a genuine card's text-AP data passes
both.  The text output says on stderr, once, what the check proved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from jukicard.cli._common import (
    JukiCommand,
    card_options,
    interaction,
    notice,
    out,
    pin_stdin_option,
)
from jukicard.cli._text import escape
from jukicard.errors import UsageError

if TYPE_CHECKING:
    from jukicard.card import BasicInfo
    from jukicard.cli._common import CardSelection

__all__ = ["mynumber", "basic_info"]

_SEX = {1: "male", 2: "female", 9: "not applicable"}

_FIELDS_HELP = (
    "  With --json: \"signature_checked\" is true when the check ran; \"signature_check\" "
    "says against what: \"card-key-only\" (the key of the card's own CV certificate: not "
    "damaged or altered since signing, but a forged card brings its own key), "
    "\"trusted-issuer\" (with --issuer-key: the card's CV certificate verifies under that "
    "trusted key, so the data was signed by a key the issuer certified; other keys fail "
    "with exit 5) or \"not-checked\".  Neither proves that this physical card is the card "
    "the data was written to (a copy of a genuine card's data passes too).")
#: What the text output says on stderr after a check against the card's own key.
OWN_KEY_ONLY = ("the data was checked against the card's own key only: it is not damaged or "
                "altered since it was signed, but a forged card can bring its own key "
                "(--issuer-key FILE with the trusted J-LIS CV issuer key also checks that the "
                "issuer certified the signing key)")
#: What the text output says on stderr after a check under ``--issuer-key``.
TRUSTED_ISSUER = ("the data was signed by a key the issuer (--issuer-key) certified; this "
                  "does not prove that this physical card is the card it was written to (a "
                  "copy of a genuine card's data passes too)")


def _sm_option(f: Any) -> Any:
    return click.option(
        "--sm", "secure", is_flag=True,
        help="read over the card's secure messaging (SET SESSION KEY, AES; the data is "
        "encrypted on the wire, the 4-digit PIN is not; no integrity protection): the JSON "
        "says \"secure_messaging\": true")(f)


def _issuer_key_option(f: Any) -> Any:
    return click.option(
        "--issuer-key", metavar="FILE",
        help="trusted CV certificate issuer key (J-LIS): a CV certificate (.cvc, e.g. "
        "vectors/pki/cv/jlis-root.cvc for the test cards) or a PEM RSA public key; the "
        "card's CV certificate must verify under it (data signed by a key that issuer did "
        "not certify fails with exit 5)")(f)


def _issuer_key(path: str | None) -> Any:
    from jukicard.services.inputs import load_issuer_key

    return None if path is None else load_issuer_key(path)


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
               "printed on stdout only, never logged." + _FIELDS_HELP)
@card_options(fallback=False, never_why="reads personal data")
@pin_stdin_option("the text-AP PIN")
@click.option("--check-signature/--no-check-signature", default=True,
              help="also read the 基本4情報 and check both against the card's signature, so "
              "tampered data is reported (default: on)")
@_issuer_key_option
@_sm_option
def mynumber(card: CardSelection, as_json: bool, pin_stdin: bool,
             check_signature: bool, issuer_key: str | None, secure: bool) -> int:
    from jukicard.services.data import read_my_number, read_verified

    if issuer_key is not None and not check_signature:
        raise UsageError("--issuer-key: not allowed with --no-check-signature")
    trusted = _issuer_key(issuer_key)
    asker = interaction(pin_stdin)
    check = "not-checked"
    with card.open() as transport:
        if check_signature:
            verified = read_verified(transport, asker, issuer_key=trusted, secure=secure)
            number, check = verified.my_number, str(verified.signature_check)
        else:
            number = read_my_number(transport, asker, secure=secure)
    if as_json:
        out().json({"my_number": number.digits, "signature_checked": check_signature,
                    "signature_check": check, **_sm_json(secure),
                    "card_source": card.source_json()})
    else:
        out().text(escape(number.digits))
        _tell_check(check)
    return 0


def _sm_json(secure: bool) -> dict[str, bool]:
    """``{"secure_messaging": true}`` after an ``--sm`` read (nothing otherwise: the
    output of plain reads is unchanged)."""
    return {"secure_messaging": True} if secure else {}


def _tell_check(check: str) -> None:
    """Say on stderr what the signature check proved (nothing when none ran)."""
    if check == "card-key-only":
        notice(OWN_KEY_ONLY)
    elif check == "trusted-issuer":
        notice(TRUSTED_ISSUER)


@click.command("basic-info", cls=JukiCommand,
               short_help="print the 基本4情報: name, address, birth date, sex",
               help="Read the 基本4情報 from the 券面事項入力補助AP.  Personal data: printed on "
               "stdout only, never logged." + _FIELDS_HELP)
@card_options(fallback=False, never_why="reads personal data")
@pin_stdin_option("the text-AP PIN (or 照合番号B)")
@click.option("--match-b", is_flag=True,
              help="unlock with 照合番号B (birth YYMMDD + expiry year + security code) instead "
              "of the 4-digit PIN")
@click.option("--check-signature/--no-check-signature", default=None,
              help="check the data against the card's signature (default: on with the 4-digit "
              "PIN; not possible with 照合番号B, which does not unlock the My Number the "
              "signature also covers)")
@_issuer_key_option
@_sm_option
def basic_info(card: CardSelection, as_json: bool, pin_stdin: bool, match_b: bool,
               check_signature: bool | None, issuer_key: str | None, secure: bool) -> int:
    from jukicard.services.data import read_basic_info, read_verified

    if check_signature and match_b:
        raise UsageError("--check-signature needs the 4-digit PIN, not 照合番号B")
    if secure and match_b:
        raise UsageError("--sm needs the 4-digit PIN, not 照合番号B")
    checked = not match_b if check_signature is None else check_signature
    if issuer_key is not None and not checked:
        raise UsageError("--issuer-key needs the signature check (the 4-digit PIN, not "
                         "照合番号B or --no-check-signature)")
    trusted = _issuer_key(issuer_key)
    asker = interaction(pin_stdin)
    check = "not-checked"
    with card.open() as transport:
        if checked:
            verified = read_verified(transport, asker, issuer_key=trusted, secure=secure)
            info, check = verified.basic_info, str(verified.signature_check)
        else:
            info = read_basic_info(transport, asker, match_b=match_b, secure=secure)
    data = _basic_json(info)
    if as_json:
        out().json({**data, "signature_checked": checked, "signature_check": check,
                    **_sm_json(secure), "card_source": card.source_json()})
    else:
        for key in ("name", "address", "birth", "sex"):
            out().text(escape(f"{key + ':':<8} {data[key]}"))
        _tell_check(check)
    return 0
