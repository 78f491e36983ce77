"""券面事項入力補助AP (text AP, "kenhojo"): the facts.

The 4-digit PIN ``0011`` unlocks everything; 照合番号A (``0014``, the 12-digit My Number)
unlocks the My Number EF only; 照合番号B (``0015``: birth YYMMDD + expiry year YYYY +
security code) unlocks the 基本4情報 only (``card-interface.md`` §3.2, §4).
"""

from __future__ import annotations

import enum
import string

from jukicard.apdu.apps.spec import Application, Charset, PinEnum, PinSpec
from jukicard.errors import PinFormatError

__all__ = ["AID", "TEXT", "TextPin", "TextEf", "MATCH_A_LABELS", "MATCH_B_LABELS",
           "make_match_b", "CARD_AUTH_KEY", "CARD_AUTH_CHALLENGE_LEN", "SM_CLA",
           "SM_CLA_WITH_INTEGRITY", "INS_SET_SESSION_KEY", "SM_SEED_LEN", "SM_KEY_LEN",
           "TAG_KEY_DELIVERY", "TAG_ENCRYPTION_KEY", "TAG_SM_CRYPTOGRAM", "TAG_SM_LE",
           "SM_PADDING_INDICATOR", "TAG_SESSION_KEY_PUBLIC"]

#: DF name of the text AP.
AID = bytes.fromhex("D3921000310001010408")

#: Names of 照合番号A / 照合番号B (the same on the text and the visual AP).
MATCH_A_LABELS = ("照合番号A", "collation number A, the My Number")
MATCH_B_LABELS = ("照合番号B",
                  "collation number B, from birth date, expiry year and security code")

_PIN = PinSpec("text", 0x0011, 4, 4, 3, Charset.DIGITS,
               "券面事項入力補助用暗証番号", "card-details input-support PIN")
_MATCH_A = PinSpec("text-match-a", 0x0014, 12, 12, 10, Charset.DIGITS, *MATCH_A_LABELS)
_MATCH_B = PinSpec("text-match-b", 0x0015, 14, 14, 10, Charset.DIGITS, *MATCH_B_LABELS)


class TextEf(enum.IntEnum):
    """Data EFs of the text AP."""

    MY_NUMBER = 0x0001
    BASIC_INFO = 0x0002
    SIGNATURE = 0x0003
    CV_CERTIFICATE = 0x0004
    AP_BASIC_INFO = 0x0005
    #: ``FF 50 { DF 51 card public key, DF 52 issuer signature }``: the public half of
    #: :data:`CARD_AUTH_KEY`, signed by the EF ``0004`` key (PIN or either 照合番号).
    SIGNED_CARD_KEY = 0x0007
    #: ``A1 { 90 e, 91 n }``: the bare RSA-2048 key SET SESSION KEY encrypts the session
    #: seed to (PIN or either 照合番号; ``card-security.md`` §1).
    SESSION_KEY_PUBLIC = 0x0006


#: The AP's own signing key (IEF), the application's default key: ``80 2A 00 00`` signs
#: with it, with no SELECT and no credential (``card-security.md`` §2, §8).
CARD_AUTH_KEY = 0x0013
#: Length of the card's GET CHALLENGE answer the 券面 protocol uses (§2).
CARD_AUTH_CHALLENGE_LEN = 16

# Secure messaging (``card-security.md`` §1): the only AP with it; confidentiality only.
#: CLA of a secure-messaging command (SM, no integrity).
SM_CLA = 0x08
#: CLA with the integrity bit: refused (``6987``), the card has no CCS key.
SM_CLA_WITH_INTEGRITY = 0x0C
#: ``80 AE 00 00``: SET SESSION KEY, an RSA-OAEP-SHA256 cryptogram of the key delivery.
INS_SET_SESSION_KEY = 0xAE
#: The key-delivery seed: always 32 bytes; the AES-128 session key is its first 16.
SM_SEED_LEN = 32
SM_KEY_LEN = 16
#: Key delivery ``A0 22 { 80 20 <seed> }`` (only the encryption-key form is accepted).
TAG_KEY_DELIVERY = 0xA0
TAG_ENCRYPTION_KEY = 0x80
#: ``86 L 01 ‖ ciphertext``: encrypted command data and response data.
TAG_SM_CRYPTOGRAM = 0x86
#: ``96 03 00 <Le hi> <Le lo>``: the Le of READ BINARY under SM (0 = the whole file).
TAG_SM_LE = 0x96
#: The padding-content indicator of ``86``: ISO/IEC 7816-4 padding.
SM_PADDING_INDICATOR = 0x01
#: Outer tag of EF ``0006``.
TAG_SESSION_KEY_PUBLIC = 0xA1


#: The 券面事項入力補助AP.
TEXT = Application(
    "text", AID, "券面事項入力補助AP", "card-details input-support application",
    pins=(_PIN, _MATCH_A, _MATCH_B),
    public_efs=frozenset({TextEf.AP_BASIC_INFO}),
)


class TextPin(PinEnum):
    """PINs of the 券面事項入力補助AP (text AP)."""

    #: 券面事項入力補助用暗証番号: 4 digits, 3 tries; unlocks My Number and 4-info.
    PIN = _PIN
    #: 照合番号A = the 12-digit My Number; unlocks the My Number EF only.
    MATCH_A = _MATCH_A
    #: 照合番号B = birth YYMMDD + expiry year YYYY + security code (14 digits); 4-info only.
    MATCH_B = _MATCH_B


def make_match_b(birth_yymmdd: str, expiry_year: int | str, security_code: str) -> str:
    """Build 照合番号B from the items printed on the card face.

    :param birth_yymmdd: birth date as 6 digits (和暦 YYMMDD as printed, most likely).
    :param expiry_year: the card's expiry year (4 digits, 西暦).
    :param security_code: the 4-digit セキュリティコード.
    :returns: the 14-digit 照合番号B.
    :raises PinFormatError: a part has the wrong length or non-digits.
    """
    year = str(expiry_year)
    for part, length, what in (
        (birth_yymmdd, 6, "birth date"),
        (year, 4, "expiry year"),
        (security_code, 4, "security code"),
    ):
        if (not isinstance(part, str) or len(part) != length
                or any(c not in string.digits for c in part)):
            raise PinFormatError(f"照合番号B: {what} must be {length} digits")
    return birth_yymmdd + year + security_code
