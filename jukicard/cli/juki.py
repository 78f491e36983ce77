"""``jukicard juki authenticate``: the **jukicard protocol** (our own card–system mutual
authentication and secure messaging; NOT 住基ネット's) between the card and this terminal.

The keys are in a PKCS#11 token (default SoftHSM2): ``--pkcs11-module``, ``--token-label``
and the token PIN's source ``--token-pin-env NAME`` / ``--token-pin-file PATH`` (never the
PIN itself on the command line), each defaulting to the environment
(``JUKICARD_PKCS11_MODULE``, ``JUKICARD_PKCS11_TOKEN``, ``JUKICARD_PKCS11_PIN_FILE`` or
``JUKICARD_PKCS11_PIN``; see :meth:`jukicard.keys.TokenSettings.from_environ`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from jukicard.cli._common import JukiGroup, card_options, out

if TYPE_CHECKING:
    from jukicard.cli._common import CardSelection
    from jukicard.keys import TokenSettings

__all__ = ["juki"]


@click.group("juki", cls=JukiGroup, help="住基AP: the jukicard protocol (our own card-system "
             "mutual authentication; not 住基ネット's)")
def juki() -> None:
    pass


def _token_settings(module: Path | None, label: str | None, pin_env: str | None,
                    pin_file: Path | None) -> TokenSettings:
    """The options over the environment's settings (:meth:`TokenSettings.from_environ`)."""
    import os

    from jukicard.errors import UsageError
    from jukicard.keys import DEFAULT_MODULE, PinSource, TokenSettings

    if pin_env is not None and pin_file is not None:
        raise UsageError("--token-pin-env and --token-pin-file exclude each other")
    if label is None:
        base = TokenSettings.from_environ()
    else:
        env_module = os.environ.get("JUKICARD_PKCS11_MODULE")
        env_pin_file = os.environ.get("JUKICARD_PKCS11_PIN_FILE")
        base = TokenSettings(label, PinSource(file=Path(env_pin_file)) if env_pin_file
                             else PinSource(env="JUKICARD_PKCS11_PIN"),
                             Path(env_module) if env_module else DEFAULT_MODULE)
    pin = (PinSource(env=pin_env) if pin_env is not None
           else PinSource(file=pin_file) if pin_file is not None else base.pin)
    return TokenSettings(base.token_label, pin, module or base.module)


@juki.command("authenticate", short_help="mutual authentication of card and system "
              "(jukicard protocol)",
              help="Run the jukicard protocol (ISO/IEC 9798-2 mutual authentication with "
              "AES-128, SP 800-108 session keys, ISO 7816-4 secure messaging) with the keys "
              "of a PKCS#11 token, then read the card's key information under secure "
              "messaging.  Our own protocol: it is NOT 住基ネット's.  Asks no card PIN.")
@card_options(fallback=False, never_why="authenticates a card to this system")
@click.option("--pkcs11-module", type=click.Path(path_type=Path), default=None,
              help="PKCS#11 module (default: $JUKICARD_PKCS11_MODULE or SoftHSM2)")
@click.option("--token-label", default=None,
              help="token label (default: $JUKICARD_PKCS11_TOKEN)")
@click.option("--token-pin-env", metavar="NAME", default=None,
              help="environment variable holding the token PIN")
@click.option("--token-pin-file", type=click.Path(path_type=Path), default=None,
              help="file whose first line is the token PIN")
@click.option("--master-label", default=None,
              help="the protocol master key's label in the token "
              "(default: jukicard-protocol-master)")
@click.option("--application", default="juki", show_default=True,
              help="the application configured for the protocol")
@click.option("--card-id", default=None,
              help="the card identification number (default: the card's key-information EF)")
def authenticate(card: CardSelection, as_json: bool, pkcs11_module: Path | None,
                 token_label: str | None, token_pin_env: str | None,
                 token_pin_file: Path | None, master_label: str | None, application: str,
                 card_id: str | None) -> int:
    from jukicard.services.mutual import DEFAULT_MASTER_LABEL, ProtocolSettings, mutual_authenticate

    settings = ProtocolSettings(
        _token_settings(pkcs11_module, token_label, token_pin_env, token_pin_file),
        master_label or DEFAULT_MASTER_LABEL, application)
    with card.open() as transport:
        result = mutual_authenticate(transport, settings, card_id=card_id)
    if as_json:
        out().json({**result.to_json(), "card_source": card.source_json()})
    else:
        out().text(f"mutually authenticated (jukicard protocol v1, our own): card "
                   f"{result.card_id} on {result.application}, keys in token "
                   f"{result.token_label!r}; secure messaging ok")
    return 0
