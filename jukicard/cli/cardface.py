"""``jukicard card-face``: read the 券面事項確認AP (card face) with the authenticity of what
was read (issue 11, VIS-5).

Personal data, printed on stdout only because the command asks for it; nothing of it is
logged; never from the built-in test card without ``--emulated``.  By default the record's
signature is checked up to a bundled J-LIS CV CA key of the visual AP, as ``card
authenticate`` does (production keys only; ``--allow-test-keys`` and ``--ca-key`` as
there): an untrusted CA, another application's CA or a tampered record exits 5 and
prints nothing.  ``--check own-key`` checks the record under the card's own CV
certificate only (``self-consistent-only``), ``--check none`` not at all (``not-checked``).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import click

from jukicard.cli._common import (
    JukiCommand,
    LazyChoice,
    card_options,
    interaction,
    notice,
    out,
    pin_stdin_option,
)
from jukicard.cli._text import escape
from jukicard.cli.cardauth import trust_options

if TYPE_CHECKING:
    from jukicard.card import VisualEntries
    from jukicard.cli._common import CardSelection

__all__ = ["card_face", "entries_json"]

_SEX = {1: "male", 2: "female", 9: "not applicable"}
_IMAGES = ("name_png", "address_png", "photo", "security_code_png")
#: What the text output says on stderr, by trust level.
TRUST_NOTICES = {
    "verified-to-jlis-ca": "the signed items (birth, sex, card key, name, address, photo) "
    "verify up to CV CA {ca} ({kind}, {source}); the expiry and the security-code image "
    "are not signed",
    "self-consistent-only": "the signed items verify under the card's own CV certificate "
    "only: not damaged since signing, but a forged card brings its own key",
    "not-checked": "the record's signature was not checked",
}


def _service_lists() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The credential and check choices, from the service (one source of truth)."""
    from jukicard.services.cardface import CHECKS, CREDENTIALS

    return CREDENTIALS, CHECKS


def entries_json(entries: VisualEntries) -> dict[str, Any]:
    """The JSON of the entries: items (images base64) and their authenticity."""
    data: dict[str, Any] = {
        "birth": entries.birth,
        "sex": _SEX.get(entries.sex.value, str(entries.sex.value)),
        "sex_code": entries.sex.value,
        "expiry": entries.expiry,
    }
    for name in _IMAGES:
        value = getattr(entries, name)
        data[name] = None if value is None else base64.b64encode(value).decode("ascii")
    return {**data, **entries.authenticity.to_dict()}


@click.command("card-face", cls=JukiCommand,
               short_help="print the 券面事項 (card face) and whether they are authentic",
               help="Read the card-face items of the 券面事項確認AP (birth date, sex, expiry, "
               "name/address images, photo) and check the record's signature up to a J-LIS "
               "CV CA key of the visual AP.  Personal data: printed on stdout only, never "
               "logged.  JSON: the items (images base64) and \"trust_level\" "
               "(verified-to-jlis-ca / self-consistent-only / not-checked), \"ca_key_id\", "
               "\"ca_kind\", \"ca_source\" (bundled / caller), \"signed_records\", "
               "\"unsigned_items\".")
@card_options(fallback=False, never_why="reads personal data")
@pin_stdin_option("the credential (照合番号B by default)")
@click.option("--credential", type=LazyChoice(lambda: _service_lists()[0]), default="match-b",
              show_default=True, help="照合番号A (the My Number) or 照合番号B")
@click.option("--check", type=LazyChoice(lambda: _service_lists()[1]), default="ca",
              show_default=True, help="check the signature up to a trusted CV CA, under the "
              "card's own CV certificate only, or not at all")
@trust_options
def card_face(card: CardSelection, as_json: bool, pin_stdin: bool, credential: str,
              check: str, allow_test_keys: bool, ca_keys: tuple[str, ...]) -> int:
    from jukicard.services.cardface import read_card_face
    from jukicard.services.genuineness import load_cv_ca_key

    extra = tuple(load_cv_ca_key(p) for p in ca_keys)
    asker = interaction(pin_stdin)
    with card.open() as transport:
        entries = read_card_face(
            transport, asker, credential=credential,  # type: ignore[arg-type]
            check=check, allow_test_keys=allow_test_keys,  # type: ignore[arg-type]
            extra_keys=extra)
    data = entries_json(entries)
    if as_json:
        out().json({**data, "card_source": card.source_json()})
        return 0
    for key in ("birth", "sex", "expiry"):
        out().text(escape(f"{key + ':':<8} {data[key]}"))
    for name in _IMAGES:
        value = getattr(entries, name)
        out().text(f"{name + ':':<18} {'-' if value is None else f'{len(value)} bytes'}")
    ca = data["ca_key_id"]
    notice(TRUST_NOTICES[data["trust_level"]].format(
        ca=bytes.fromhex(ca)[:7].decode("ascii", "replace") if ca else "-",
        kind=data["ca_kind"], source=data["ca_source"]))
    return 0
