"""Commands that read personal data off the card: ``mynumber`` and ``basic-info``.

They print personal data, on stdout only, because the command asks for it; nothing of it is
logged.  They never use the built-in test card without ``--emulated``.  PIN order for
``--pin-stdin``: one line, the text-AP PIN (``basic-info --match-b``: 照合番号B).
(``cert export`` lives with the other certificate commands in :mod:`jukicard.cli.cert`.)

What the signature check proved (the JSON fields, described in the commands' help), as
``card-face`` says it (CARDAUTH-7): ``trust_level`` is ``"self-consistent-only"`` by
default (``--check own-key``: the key in the card's own CV certificate; the data is not
damaged or altered since it was signed, but a forged card brings its own key; kept the
default so that every card, emulated ones too, reads without a trust set),
``"verified-to-jlis-ca"`` with ``--check ca`` (the card's CV certificate verifies up to a
J-LIS CV CA key of the text AP, CARDAUTH-6: production bundled keys only, unless
``--allow-test-keys`` / ``--ca-key FILE``, which imply ``--check ca``; an untrusted CA or
another application's exits 5 before the PIN is asked), ``"not-checked"`` with ``--check
none`` (= ``--no-check-signature``).  ``--issuer-key FILE`` (a bare key, no CV CA id)
keeps working with the default check and gives ``"verified-to-jlis-ca"`` only when the key
is a bundled J-LIS key, else ``"verified-to-caller-key"``; it cannot be combined with
``--check ca`` or the trust options (one source of trust per read).  ``ca_key_id``,
``ca_kind`` (production / test), ``ca_source`` (bundled / caller) say which key.  The older
fields stay: ``signature_checked`` (a check ran) and ``signature_check``
(``"card-key-only"`` / ``"trusted-issuer"`` / ``"not-checked"``).  No label proves that
this physical card is the card the data was written to (a copy of a genuine card's data
passes too: ``jukicard card authenticate --ap text`` proves the card).  The text output
says on stderr, once, what the check proved (the default's and ``--issuer-key``'s lines
as before).
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
from jukicard.cli.cardauth import trust_options
from jukicard.errors import UsageError

if TYPE_CHECKING:
    from jukicard.card import BasicInfo, VerifiedTextData
    from jukicard.cli._common import CardSelection

__all__ = ["mynumber", "basic_info"]

_SEX = {1: "male", 2: "female", 9: "not applicable"}
#: ``--check`` values: :data:`jukicard.services.genuineness.CHECKS` (a test keeps them
#: equal), written out so that ``--help`` imports no card stack.
CHECKS = ("ca", "own-key", "none")

_FIELDS_HELP = (
    "  With --json: \"signature_checked\" is true when the check ran; \"signature_check\" "
    "says against what: \"card-key-only\", \"trusted-issuer\" (--issuer-key, --check ca) "
    "or \"not-checked\"; \"trust_level\" says where the trust came from, as card-face: "
    "\"self-consistent-only\" (the default, --check own-key: the card's own CV certificate: "
    "not altered since signing, but a forged card brings its own key), "
    "\"verified-to-jlis-ca\" (--check ca: up to a J-LIS CV CA key of the text AP, "
    "production keys only unless --allow-test-keys; --ca-key adds one), "
    "\"verified-to-caller-key\" (--issuer-key, a key that is no bundled J-LIS key) or "
    "\"not-checked\" (--check none); \"ca_key_id\", \"ca_kind\" (production/test) and "
    "\"ca_source\" (bundled/caller) say which key.  Neither proves that this physical card is "
    "the card the data was written to (a copy of a genuine card's data passes too; card "
    "authenticate --ap text does).  An untrusted CA exits 5 before the PIN is asked.")
#: What the text output says on stderr after a check against the card's own key.
OWN_KEY_ONLY = ("the data was checked against the card's own key only: it is not damaged or "
                "altered since it was signed, but a forged card can bring its own key "
                "(--issuer-key FILE with the trusted J-LIS CV issuer key also checks that the "
                "issuer certified the signing key)")
#: What the text output says on stderr after a check under ``--issuer-key``.
TRUSTED_ISSUER = ("the data was signed by a key the issuer (--issuer-key) certified; this "
                  "does not prove that this physical card is the card it was written to (a "
                  "copy of a genuine card's data passes too)")
#: What the text output says on stderr after ``--check ca`` (the new option).
VERIFIED_TO_CA = ("the data verifies up to CV CA {ca} ({kind}, {source}): it was signed by a "
                  "key that CA certified; this does not prove that this physical card is the "
                  "card it was written to (a copy of a genuine card's data passes too)")


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
        "not certify fails with exit 5); with the default check only, not with --check ca "
        "or its trust options; \"trust_level\": verified-to-jlis-ca if it is a bundled "
        "J-LIS key, else verified-to-caller-key")(f)


def _check_option(f: Any) -> Any:
    return click.option(
        "--check", type=click.Choice(CHECKS), default=None,
        help="check the signature up to a trusted J-LIS CV CA of the text AP (ca), under the "
        "card's own CV certificate only (own-key, the default; --issuer-key adds a key of "
        "yours) or not at all (none, = --no-check-signature); --allow-test-keys / --ca-key "
        "imply ca")(f)


def _resolve_check(check_signature: bool | None, check: str | None, issuer_key: str | None,
                   trusted: bool, *, match_b: bool = False) -> str:
    """The check to run: ``"ca"``, ``"own-key"`` or ``"none"`` from the options.

    ``--check`` wins when given; otherwise ``--no-check-signature`` (or 照合番号B) means
    none, the trust options (``trusted``) mean ca, anything else own-key.

    :raises UsageError: contradictory options (nothing asked, nothing sent).
    """
    if check is not None and check_signature is not None \
            and check_signature != (check != "none"):
        raise UsageError(f"--check {check} contradicts --"
                         f"{'' if check_signature else 'no-'}check-signature")
    if check is None:
        if check_signature is False:
            check = "none"
        elif trusted:
            check = "ca"
        else:
            check = "none" if match_b and check_signature is None else "own-key"
    if check != "none" and match_b:
        given = "--check-signature" if check_signature else f"--check {check}"
        raise UsageError(f"{given} needs the 4-digit PIN, not 照合番号B (--match-b)")
    if trusted and check != "ca":
        raise UsageError("--allow-test-keys / --ca-key: trusted CV CA keys are used only with "
                         "--check ca")
    if issuer_key is not None and check == "none":
        raise UsageError("--issuer-key needs the signature check (the 4-digit PIN, not "
                         "照合番号B or --no-check-signature)")
    if issuer_key is not None and check == "ca":
        raise UsageError("--issuer-key or --check ca (and its trust options), not both: one "
                         "source of trust per read")
    return check


def _trust(check: str, issuer_key: str | None, allow_test_keys: bool,
           ca_keys: tuple[str, ...]) -> dict[str, Any]:
    """The service's ``issuer_key`` / ``policy`` for ``check`` (files read, keys checked,
    before the card is touched)."""
    from jukicard.services.genuineness import load_cv_ca_key, trust_policy
    from jukicard.services.inputs import load_issuer_key

    if check == "ca":
        extra = tuple(load_cv_ca_key(p) for p in ca_keys)
        return {"policy": trust_policy(allow_test_keys=allow_test_keys, extra_keys=extra)}
    return {"issuer_key": None if issuer_key is None else load_issuer_key(issuer_key)}


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
@click.option("--check-signature/--no-check-signature", default=None,
              help="also read the 基本4情報 and check both against the card's signature, so "
              "tampered data is reported (default: on, --check own-key)")
@_check_option
@_issuer_key_option
@trust_options
@_sm_option
def mynumber(card: CardSelection, as_json: bool, pin_stdin: bool,
             check_signature: bool | None, check: str | None, issuer_key: str | None,
             allow_test_keys: bool, ca_keys: tuple[str, ...], secure: bool) -> int:
    from jukicard.services.data import read_my_number, read_verified

    mode = _resolve_check(check_signature, check, issuer_key, allow_test_keys or bool(ca_keys))
    trust = _trust(mode, issuer_key, allow_test_keys, ca_keys)
    asker = interaction(pin_stdin)
    verified = None
    with card.open() as transport:
        if mode != "none":
            verified = read_verified(transport, asker, secure=secure, **trust)
            number = verified.my_number
        else:
            number = read_my_number(transport, asker, secure=secure)
    if as_json:
        out().json({"my_number": number.digits, **_check_json(verified), **_sm_json(secure),
                    "card_source": card.source_json()})
    else:
        out().text(escape(number.digits))
        _tell_check(verified, mode)
    return 0


def _check_json(verified: VerifiedTextData | None) -> dict[str, Any]:
    """The check's JSON fields: the older two, then where the trust came from."""
    from jukicard.services.data import trust_fields

    check = "not-checked" if verified is None else str(verified.signature_check)
    return {"signature_checked": verified is not None, "signature_check": check,
            **trust_fields(verified)}


def _sm_json(secure: bool) -> dict[str, bool]:
    """``{"secure_messaging": true}`` after an ``--sm`` read (nothing otherwise: the
    output of plain reads is unchanged)."""
    return {"secure_messaging": True} if secure else {}


def _tell_check(verified: VerifiedTextData | None, mode: str) -> None:
    """Say on stderr what the signature check proved (nothing when none ran): after
    ``--check ca`` which CV CA; otherwise the lines of before."""
    if verified is None:
        return
    if mode == "ca":
        ca = str(_check_json(verified)["ca_key_id"] or "")
        notice(VERIFIED_TO_CA.format(ca=bytes.fromhex(ca)[:7].decode("ascii", "replace"),
                                     kind=verified.ca_kind, source=verified.ca_source))
    elif verified.trusted:
        notice(TRUSTED_ISSUER)
    else:
        notice(OWN_KEY_ONLY)


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
@_check_option
@_issuer_key_option
@trust_options
@_sm_option
def basic_info(card: CardSelection, as_json: bool, pin_stdin: bool, match_b: bool,
               check_signature: bool | None, check: str | None, issuer_key: str | None,
               allow_test_keys: bool, ca_keys: tuple[str, ...], secure: bool) -> int:
    from jukicard.services.data import read_basic_info, read_verified

    mode = _resolve_check(check_signature, check, issuer_key, allow_test_keys or bool(ca_keys),
                          match_b=match_b)
    if secure and match_b:
        raise UsageError("--sm needs the 4-digit PIN, not 照合番号B")
    trust = _trust(mode, issuer_key, allow_test_keys, ca_keys)
    asker = interaction(pin_stdin)
    verified = None
    with card.open() as transport:
        if mode != "none":
            verified = read_verified(transport, asker, secure=secure, **trust)
            info = verified.basic_info
        else:
            info = read_basic_info(transport, asker, match_b=match_b, secure=secure)
    data = _basic_json(info)
    if as_json:
        out().json({**data, **_check_json(verified), **_sm_json(secure),
                    "card_source": card.source_json()})
    else:
        for key in ("name", "address", "birth", "sex"):
            out().text(escape(f"{key + ':':<8} {data[key]}"))
        _tell_check(verified, mode)
    return 0
