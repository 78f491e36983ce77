"""The card layout, described once, as data.

Application identifiers, elementary-file ids, PIN (IEF) references, PIN formats and retry
limits, key IEFs and certificate EFs of the 住基カード and the マイナンバーカード.  The sessions
(:mod:`jukicard.card.jpki`, :mod:`~jukicard.card.text`, ...) read everything from here; a
test checks these tables against the emulator's card profiles (``vectors/cards/*.json``).

Facts and their confidence come from ``card-interface.md`` (§2–§4, §12).  Items marked
"unverified layout" are documented guesses (住基カード JPKI EF layout and password rules,
住基AP AID and its EFs): no public source confirms them.
"""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass

from jukicard.errors import PinFormatError

__all__ = [
    "Charset",
    "PinFormatError",
    "PinSpec",
    "Application",
    "App",
    "CertSpec",
    "KeySpec",
    "JpkiPin",
    "JpkiCert",
    "JpkiKey",
    "JukiJpkiPin",
    "JukiJpkiCert",
    "JukiJpkiKey",
    "TextPin",
    "TextEf",
    "VisualPin",
    "VisualEf",
    "JukiPin",
    "JukiEf",
    "CommonEf",
    "JPKI_TOKEN_EF",
    "make_match_b",
]


class Charset(enum.Enum):
    """Characters a PIN may contain."""

    #: ASCII digits only.
    DIGITS = "digits"
    #: ``A``–``Z`` and ``0``–``9``; lower-case input is upper-cased (as the official
    #: JPKI client does).  Used by the JPKI signature password.
    ALNUM_UPPER = "alnum-upper"
    #: ASCII letters (either case) and digits, sent as typed.
    ALNUM = "alnum"

    def allowed(self) -> frozenset[str]:
        if self is Charset.DIGITS:
            return frozenset(string.digits)
        if self is Charset.ALNUM_UPPER:
            return frozenset(string.ascii_uppercase + string.digits)
        return frozenset(string.ascii_letters + string.digits)


@dataclass(frozen=True)
class PinSpec:
    """One PIN reference-data IEF.

    :ivar ef: the IEF's file id (selected with ``00 A4 02 0C 02 <ef>`` before VERIFY).
    :ivar min_len: minimum length in characters.
    :ivar max_len: maximum length in characters.
    :ivar max_tries: the retry limit, or ``None`` if not known.
    :ivar charset: allowed characters.
    :ivar name: a short name for logs and messages (never the value).
    :ivar needs_letter_and_digit: a *new* value must contain at least one letter and one
        digit (JPKI signature password rule; checked by :meth:`encode_new` only, so an old
        card whose value predates the rule can still be verified).
    """

    ef: int
    min_len: int
    max_len: int
    max_tries: int | None
    charset: Charset
    name: str
    needs_letter_and_digit: bool = False

    @property
    def ef_bytes(self) -> bytes:
        return self.ef.to_bytes(2, "big")

    def normalize(self, value: str) -> str:
        """The value as it will be sent (upper-cased for :attr:`Charset.ALNUM_UPPER`)."""
        if self.charset is Charset.ALNUM_UPPER:
            return value.upper()
        return value

    def encode(self, value: str) -> bytes:
        """Check the format and return the ASCII bytes to put in VERIFY.

        :param value: the PIN as typed.
        :raises PinFormatError: wrong type, length or characters (the message never
            contains the value).
        """
        if not isinstance(value, str):
            raise PinFormatError(f"{self.name}: a PIN must be given as str")
        # Check the characters as typed, before upper-casing: str.upper() maps some
        # non-ASCII letters to ASCII ones ("ı" → "I", "ſ" → "S"), which would send a PIN
        # the user did not type.
        if not value.isascii():
            raise PinFormatError(f"{self.name}: contains characters outside {self.charset.value}")
        value = self.normalize(value)
        if not self.min_len <= len(value) <= self.max_len:
            want = (
                f"{self.min_len}" if self.min_len == self.max_len
                else f"{self.min_len}-{self.max_len}"
            )
            raise PinFormatError(f"{self.name}: must be {want} characters, got {len(value)}")
        allowed = self.charset.allowed()
        if any(ch not in allowed for ch in value):
            raise PinFormatError(f"{self.name}: contains characters outside {self.charset.value}")
        return value.encode("ascii")

    def encode_new(self, value: str) -> bytes:
        """Like :meth:`encode`, plus the rules for *setting* a new value.

        :raises PinFormatError: as :meth:`encode`, or a required letter/digit is missing.
        """
        raw = self.encode(value)
        if self.needs_letter_and_digit:
            text = raw.decode("ascii")
            if not (any(c.isdigit() for c in text) and any(c.isalpha() for c in text)):
                raise PinFormatError(f"{self.name}: needs at least one letter and one digit")
        return raw


@dataclass(frozen=True)
class Application:
    """A card application (DF selected by name).

    :ivar name: short name (``"jpki"``, ``"text"``...), as in the emulator profiles.
    :ivar aid: the DF name (AID).
    :ivar label: human-readable Japanese name.
    :ivar verified_layout: False for documented guesses ("unverified layout").
    """

    name: str
    aid: bytes
    label: str
    verified_layout: bool = True


class App(enum.Enum):
    """Every application jukicard knows.  All AIDs start ``D3 92`` (RID, Japan 392)."""

    JPKI = Application("jpki", bytes.fromhex("D392F000260100000001"), "公的個人認証AP")
    TEXT = Application("text", bytes.fromhex("D3921000310001010408"), "券面事項入力補助AP")
    VISUAL = Application("visual", bytes.fromhex("D3921000310001010402"), "券面事項確認AP")
    COMMON = Application("common", bytes.fromhex("D3921000310001010100"), "共通DF (card id)")
    #: NOTE: unverified layout; sources conflict (``…0401`` vs ``…0100``), §3.4.
    JUKI = Application(
        "juki", bytes.fromhex("D3921000310001010401"), "住基AP", verified_layout=False
    )

    @property
    def aid(self) -> bytes:
        return self.value.aid


@dataclass(frozen=True)
class CertSpec:
    """A certificate EF.

    :ivar ef: file id of the DER certificate (possibly padded after the DER).
    :ivar pin: the PIN that must be verified before reading it, or ``None``.
    :ivar pin_on_smartphone: the PIN needed only on smartphone JPKI tokens (GP-SE).
    :ivar name: short name.
    """

    ef: int
    name: str
    pin: PinSpec | None = None
    pin_on_smartphone: PinSpec | None = None


@dataclass(frozen=True)
class KeySpec:
    """A private-key IEF used with ``80 2A 00 80`` (COMPUTE DIGITAL SIGNATURE).

    :ivar ef: file id of the key IEF (selected before signing).
    :ivar pin: the PIN that unlocks the key.
    :ivar cert: the certificate holding the matching public key.
    :ivar bits: RSA modulus size.
    :ivar name: short name.
    """

    ef: int
    pin: PinSpec
    cert: CertSpec
    bits: int
    name: str


# --------------------------------------------------------------------------- JPKI AP
_AUTH_PIN = PinSpec(0x0018, 4, 4, 3, Charset.DIGITS, "JPKI auth PIN")
_SIGN_PIN = PinSpec(
    0x001B, 6, 16, 5, Charset.ALNUM_UPPER, "JPKI sign password", needs_letter_and_digit=True
)

#: EF of the JPKI token string (``JPKIAPICCTOKEN2`` / ``JPKIAPICCTOKEN`` / ``JPKIAPGPSETOKEN``).
JPKI_TOKEN_EF = 0x0006


class JpkiPin(enum.Enum):
    """PINs of the My Number card's JPKI AP."""

    #: 利用者証明用電子証明書 暗証番号: 4 digits, 3 tries.
    AUTH = _AUTH_PIN
    #: 署名用電子証明書 パスワード: 6–16 of A–Z/0–9, 5 tries.
    SIGN = _SIGN_PIN

    @property
    def spec(self) -> PinSpec:
        return self.value


_AUTH_CERT = CertSpec(0x000A, "auth certificate", pin_on_smartphone=_AUTH_PIN)
_AUTH_CA = CertSpec(0x000B, "auth CA certificate")
_SIGN_CERT = CertSpec(0x0001, "sign certificate", pin=_SIGN_PIN)
_SIGN_CA = CertSpec(0x0002, "sign CA certificate")


class JpkiCert(enum.Enum):
    """Certificate EFs of the JPKI AP."""

    AUTH = _AUTH_CERT
    AUTH_CA = _AUTH_CA
    SIGN = _SIGN_CERT
    SIGN_CA = _SIGN_CA

    @property
    def spec(self) -> CertSpec:
        return self.value


class JpkiKey(enum.Enum):
    """Private-key IEFs of the JPKI AP (RSA-2048)."""

    AUTH = KeySpec(0x0017, _AUTH_PIN, _AUTH_CERT, 2048, "auth key")
    SIGN = KeySpec(0x001A, _SIGN_PIN, _SIGN_CERT, 2048, "sign key")

    @property
    def spec(self) -> KeySpec:
        return self.value


# ---- 住基カード JPKI AP: NOTE unverified layout (card-interface.md §12) ----------------
_JUKI_SIGN_PIN = PinSpec(0x001B, 4, 16, 5, Charset.ALNUM, "住基カード JPKI password")
_JUKI_SIGN_CERT = CertSpec(0x0001, "sign certificate", pin=_JUKI_SIGN_PIN)
_JUKI_SIGN_CA = CertSpec(0x0002, "sign CA certificate")


class JukiJpkiPin(enum.Enum):
    """The one password of the 住基カード JPKI AP (4–16 alphanumerics; tries assumed 5).

    NOTE: unverified layout — the EF ids are the My Number card's, by inference.
    """

    SIGN = _JUKI_SIGN_PIN

    @property
    def spec(self) -> PinSpec:
        return self.value


class JukiJpkiCert(enum.Enum):
    """Certificate EFs of the 住基カード JPKI AP (sign side only).  Unverified layout."""

    SIGN = _JUKI_SIGN_CERT
    SIGN_CA = _JUKI_SIGN_CA

    @property
    def spec(self) -> CertSpec:
        return self.value


class JukiJpkiKey(enum.Enum):
    """The one private key of the 住基カード JPKI AP (RSA-1024).  Unverified layout."""

    SIGN = KeySpec(0x001A, _JUKI_SIGN_PIN, _JUKI_SIGN_CERT, 1024, "sign key")

    @property
    def spec(self) -> KeySpec:
        return self.value


# --------------------------------------------------------------------------- 券面事項入力補助AP
class TextPin(enum.Enum):
    """PINs of the 券面事項入力補助AP (text AP)."""

    #: 券面事項入力補助用暗証番号: 4 digits, 3 tries; unlocks My Number and 4-info.
    PIN = PinSpec(0x0011, 4, 4, 3, Charset.DIGITS, "text AP PIN")
    #: 照合番号A = the 12-digit My Number; unlocks the My Number EF only.
    MATCH_A = PinSpec(0x0014, 12, 12, 10, Charset.DIGITS, "text AP 照合番号A")
    #: 照合番号B = birth YYMMDD + expiry year YYYY + security code (14 digits); 4-info only.
    MATCH_B = PinSpec(0x0015, 14, 14, 10, Charset.DIGITS, "text AP 照合番号B")

    @property
    def spec(self) -> PinSpec:
        return self.value


class TextEf(enum.IntEnum):
    """Data EFs of the text AP."""

    MY_NUMBER = 0x0001
    BASIC_INFO = 0x0002
    SIGNATURE = 0x0003
    CV_CERTIFICATE = 0x0004
    AP_BASIC_INFO = 0x0005


# --------------------------------------------------------------------------- 券面AP
class VisualPin(enum.Enum):
    """PINs of the 券面事項確認AP (visual AP)."""

    #: 照合番号A (the My Number): front and back items.
    MATCH_A = PinSpec(0x0013, 12, 12, 10, Charset.DIGITS, "visual AP 照合番号A")
    #: 照合番号B (birth YYMMDD + expiry YYYY + security code).
    MATCH_B = PinSpec(0x0012, 14, 14, 10, Charset.DIGITS, "visual AP 照合番号B")
    #: 生年月日読出用暗証番号 (6-digit birth date).
    BIRTH = PinSpec(0x0011, 6, 6, 3, Charset.DIGITS, "visual AP birth-date PIN")

    @property
    def spec(self) -> PinSpec:
        return self.value


class VisualEf(enum.IntEnum):
    """Data EFs of the visual AP."""

    BIRTH = 0x0001
    ENTRIES = 0x0002
    AP_BASIC_INFO = 0x0003
    CV_CERTIFICATE = 0x0004
    MY_NUMBER_IMAGE = 0x0005


# --------------------------------------------------------------------------- 住基AP (shell)
class JukiPin(enum.Enum):
    """PIN of the 住基AP.  NOTE: unverified layout (§3.4)."""

    #: 住民基本台帳用暗証番号: 4 digits, 3 tries.
    PIN = PinSpec(0x001C, 4, 4, 3, Charset.DIGITS, "住基 PIN")

    @property
    def spec(self) -> PinSpec:
        return self.value


class JukiEf(enum.IntEnum):
    """Data EFs of the 住基AP.  NOTE: unverified layout — the real EFs are not public;
    this is the emulator's choice (住民票コード, 11 ASCII digits)."""

    RESIDENT_CODE = 0x0001


class CommonEf(enum.IntEnum):
    """EFs of the common DF."""

    #: record EF; record 1 holds the card id.
    CARD_ID = 0x0001


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
