"""The diversification input of a per-card key (pure: no token, no key).

``D = SHA-256("jukicard-div-v1" ‖ 00 ‖ purpose ‖ 00 ‖ card id)``, truncated to the key size
(16 bytes for AES-128, 32 for AES-256).  The token then computes ``K_card = AES-ECB(K_master,
D)`` (``CKM_AES_ECB_ENCRYPT_DATA``).  Hashing first lets the card identification number have
any length (GET DATA ``0045`` is ASCII of card-dependent length) while ``D`` stays whole AES
blocks, and binds the purpose so the card's ENC and MAC keys are unrelated.  The purpose
contains no ``00`` byte and comes before the card id, so the encoding is unambiguous.
"""

from __future__ import annotations

import hashlib
import re

from jukicard.errors import UsageError

__all__ = ["DIVERSIFICATION_DOMAIN", "diversification_data"]

#: Domain separation of the jukicard protocol's key diversification, version 1.
DIVERSIFICATION_DOMAIN = b"jukicard-div-v1"
_PURPOSE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_MAX_CARD_ID = 64


def diversification_data(card_id: bytes | str, *, purpose: str = "card-key",
                         bits: int = 128) -> bytes:
    """Return ``D`` for *card_id* and *purpose* (``bits // 8`` bytes).

    :param card_id: the card identification number: bytes, or ASCII text.
    :param purpose: lower-case ASCII letters, digits and ``-`` (at most 32).
    :param bits: the derived key size, 128 or 256.
    :raises UsageError: empty, non-ASCII or over-long (> 64 bytes) card id; bad purpose or size.
    """
    if bits not in (128, 256):
        raise UsageError(f"a derived AES key is 128 or 256 bits, not {bits}")
    if not _PURPOSE.fullmatch(purpose):
        raise UsageError("a key purpose is 1-32 characters of a-z 0-9 -")
    if isinstance(card_id, str):
        if not card_id.isascii():
            raise UsageError("the card identification number must be ASCII")
        card_id = card_id.encode("ascii")
    if not 1 <= len(card_id) <= _MAX_CARD_ID:
        raise UsageError(f"the card identification number must be 1-{_MAX_CARD_ID} bytes")
    digest = hashlib.sha256(
        DIVERSIFICATION_DOMAIN + b"\x00" + purpose.encode("ascii") + b"\x00" + bytes(card_id)
    ).digest()
    return digest[: bits // 8]
