"""The **jukicard protocol**'s per-card keys for the test cards (issue 11, part B).

The jukicard protocol is our own (``docs/jukicard-protocol.md``), NOT 住基ネット's.  A test
card's keys are diversified here from :data:`TEST_PROTOCOL_MASTER_KEY` with the same function
the token uses (``K = AES-ECB(K_master, D)``, ``D`` from
:func:`jukicard.keys.diversification_data`), so a SoftHSM2 token holding the same TEST master
(``jukicard.keys.init.import_demo_master_key``) derives exactly the keys the card holds.

NOTE: :data:`TEST_PROTOCOL_MASTER_KEY` is a published TEST value.  It exists only here and in
test data; a production master key is generated inside the token and never exists in
Python memory.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from jukicard.card.mutual import KEY_INFO_EF, PROTOCOL_VERSION, PURPOSES, KeyInfo
from jukicard.emulator.filespecs import BinaryFileSpec, FileSpec, ProtocolKeySpec
from jukicard.keys.diversify import diversification_data

__all__ = [
    "TEST_PROTOCOL_MASTER_KEY",
    "PROTOCOL_KEY_IEF",
    "PROTOCOL_TRIES",
    "PROTOCOL_CARD_IDS",
    "diversified_test_key",
    "protocol_files",
]

#: TEST master key of the jukicard protocol (AES-256).  Published; tests and demos only.
TEST_PROTOCOL_MASTER_KEY = bytes.fromhex(
    "6a756b6963617264205445535420707274636c206d6173746572206b65792031")
#: The protocol key IEF's file id in a protocol application (emulator's choice).
PROTOCOL_KEY_IEF = 0x0031
#: The card's failed-authentication counter (JP-5).
PROTOCOL_TRIES = 3
#: Synthetic card identification numbers of the test cards that speak the protocol.
PROTOCOL_CARD_IDS = {"juki1": "TESTJUKI00000001"}


def diversified_test_key(card_id: str, purpose: str,
                  master: bytes = TEST_PROTOCOL_MASTER_KEY) -> bytes:
    """``AES-ECB(master, D(card_id, purpose))``: a per-card key computed OUTSIDE a token
    (test material only)."""
    enc = Cipher(algorithms.AES(master), modes.ECB()).encryptor()
    return enc.update(diversification_data(card_id, purpose=purpose)) + enc.finalize()


def protocol_files(card_id: str, *, master: bytes = TEST_PROTOCOL_MASTER_KEY,
                   tries: int = PROTOCOL_TRIES) -> tuple[FileSpec, ...]:
    """The key-information EF and the protocol key IEF of a card with *card_id*."""
    enc, mac, kdf = (diversified_test_key(card_id, p, master) for p in PURPOSES)
    return (
        BinaryFileSpec(KEY_INFO_EF, bytes(KeyInfo(PROTOCOL_VERSION, card_id))),
        ProtocolKeySpec(PROTOCOL_KEY_IEF, enc, mac, kdf, tries, tries),
    )
