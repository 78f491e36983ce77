"""The types every application's facts are written in: PINs, applications, certificates, keys.

Pure data, no I/O: the sessions (:mod:`jukicard.card`), the tracer
(:mod:`jukicard.transport.tracing`), the emulator and the test-vector generator all read the
same objects.  :class:`PinSpec` is the one description of a PIN's format: the client checks a
typed value with :meth:`PinSpec.encode` before anything is sent, and the emulator checks the
bytes it receives with :meth:`PinSpec.check` (CHANGE REFERENCE DATA).
"""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass, field

from jukicard.errors import PinFormatError, UsageError, tries_left_text

__all__ = [
    "Charset",
    "PinSpec",
    "Application",
    "CertSpec",
    "KeySpec",
    "PinEnum",
    "CertEnum",
    "KeyEnum",
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

    @property
    def description(self) -> str:
        """What a value may contain, for messages: ``"half-width (半角) digits"``...
        (full-width input such as ``１２３４`` is refused, and the message says why)."""
        if self is Charset.DIGITS:
            return "half-width (半角) digits"
        if self is Charset.ALNUM_UPPER:
            return "half-width (半角) letters A-Z and digits"
        return "half-width (半角) letters and digits"

    def allowed(self) -> frozenset[str]:
        """The characters allowed, as one-character strings."""
        if self is Charset.DIGITS:
            return frozenset(string.digits)
        if self is Charset.ALNUM_UPPER:
            return frozenset(string.ascii_uppercase + string.digits)
        return frozenset(string.ascii_letters + string.digits)


@dataclass(frozen=True)
class PinSpec:
    """One PIN reference-data IEF: where it is, its format, its retry limit, its names.

    :ivar id: the stable short id used by the CLI and in JSON (``"auth"``, ``"sign"``,
        ``"text-match-a"``...).
    :ivar ef: the IEF's file id (selected with ``00 A4 02 0C 02 <ef>`` before VERIFY).
    :ivar min_len: minimum length in characters.
    :ivar max_len: maximum length in characters.
    :ivar max_tries: the retry limit, or ``None`` if not known.
    :ivar charset: allowed characters.
    :ivar label_ja: the name residents know (e.g. ``"利用者証明用電子証明书暗証番号"``).
    :ivar label_en: its English name for staff (e.g. ``"user-authentication PIN"``), free of
        parentheses: :attr:`label` puts it in brackets (checked at construction).
    :ivar needs_letter_and_digit: a *new* value must contain at least one letter and one
        digit (JPKI signature password rule; checked for new values only, so an old card
        whose value predates the rule can still be verified).
    """

    id: str
    ef: int
    min_len: int
    max_len: int
    max_tries: int | None
    charset: Charset
    label_ja: str
    label_en: str
    needs_letter_and_digit: bool = field(default=False)

    def __post_init__(self) -> None:
        if any(c in self.label_en for c in "()（）"):
            raise UsageError(f"PinSpec {self.id!r}: label_en must not contain parentheses "
                             "(the label puts it in brackets)")

    # ------------------------------------------------------------------ names
    @property
    def label(self) -> str:
        """Both names, for messages and prompts: ``"照合番号A (collation number A)"``."""
        return f"{self.label_ja} ({self.label_en})"

    @property
    def name(self) -> str:
        """Same as :attr:`label` (the name messages have always used)."""
        return self.label

    def wrong_pin_message(self, retries_left: int) -> str:
        """``"<label>: wrong PIN, 1 try left"`` (never the value)."""
        return f"{self.label}: wrong PIN, {tries_left_text(retries_left)}"

    @property
    def length_text(self) -> str:
        """``"4"`` or ``"6-16"``: the allowed length in characters."""
        if self.min_len == self.max_len:
            return f"{self.min_len}"
        return f"{self.min_len}-{self.max_len}"

    @property
    def ef_bytes(self) -> bytes:
        return self.ef.to_bytes(2, "big")

    @property
    def fixed_length(self) -> bool:
        """True if every value has the same (public) length."""
        return self.min_len == self.max_len

    # ------------------------------------------------------------------ format
    def normalize(self, value: str) -> str:
        """The value as it will be sent (upper-cased for :attr:`Charset.ALNUM_UPPER`)."""
        if self.charset is Charset.ALNUM_UPPER:
            return value.upper()
        return value

    def check(self, raw: bytes, *, new: bool = False) -> str | None:
        """Check reference data as it travels on the wire (ASCII bytes, already normalized).

        :param raw: the bytes of a VERIFY / CHANGE REFERENCE DATA command.
        :param new: also apply the rules for *setting* a value.
        :returns: ``None`` if it fits, else a short reason that never contains the value
            nor its length (only the allowed length).
        """
        if not self.min_len <= len(raw) <= self.max_len:
            return f"must be {self.length_text} characters"
        allowed = self.charset.allowed()
        if not raw.isascii() or any(chr(b) not in allowed for b in raw):
            return self._charset_problem()
        if new and self.needs_letter_and_digit:
            text = raw.decode("ascii")
            if not (any(c.isdigit() for c in text) and any(c.isalpha() for c in text)):
                return "needs at least one letter and one digit"
        return None

    def encode(self, value: str) -> bytes:
        """Check the format of a typed value and return the ASCII bytes to put in VERIFY.

        :param value: the PIN as typed.
        :raises PinFormatError: wrong type, length or characters (the message never
            contains the value nor its length; for full-width input it asks for half-width
            characters).
        """
        return self._encode(value, new=False)

    def encode_new(self, value: str) -> bytes:
        """Like :meth:`encode`, plus the rules for *setting* a new value.

        :raises PinFormatError: as :meth:`encode`, or a required letter/digit is missing.
        """
        return self._encode(value, new=True)

    def _encode(self, value: object, *, new: bool) -> bytes:
        if not isinstance(value, str):
            raise PinFormatError(f"{self.label}: a PIN must be given as str")
        # Check the characters as typed, before upper-casing: str.upper() maps some
        # non-ASCII letters to ASCII ones ("ı" → "I", "ſ" → "S"), which would send a PIN
        # the user did not type.
        if not value.isascii():
            raise PinFormatError(f"{self.label}: {self._charset_problem()}")
        raw = self.normalize(value).encode("ascii")
        problem = self.check(raw, new=new)
        if problem is not None:
            raise PinFormatError(f"{self.label}: {problem}")
        return raw

    def _charset_problem(self) -> str:
        return f"use {self.charset.description} only"


@dataclass(frozen=True)
class Application:
    """A card application (DF selected by name) and the facts every layer shares.

    :ivar name: short name (``"jpki"``, ``"text"``...), as in the emulator profiles.
    :ivar aid: the DF name (AID).
    :ivar label: its Japanese name (``"公的個人認証AP"``).
    :ivar label_en: its English name.
    :ivar pins: every PIN IEF of the application.
    :ivar public_efs: EFs whose content is public (no personal data): the APDU tracer may
        log what is read from them.
    :ivar variant: ``""`` for the application as on a My Number card; another value names a
        variant with the same AID on another card (``"juki"``: the 住基カード JPKI AP).
    :ivar verified_layout: False for documented guesses ("unverified layout").
    """

    name: str
    aid: bytes
    label: str
    label_en: str
    pins: tuple[PinSpec, ...] = ()
    public_efs: frozenset[int] = frozenset()
    variant: str = ""
    verified_layout: bool = True

    def pin(self, ef: int) -> PinSpec | None:
        """The PIN whose IEF is ``ef``, or ``None``."""
        return next((p for p in self.pins if p.ef == ef), None)


@dataclass(frozen=True)
class CertSpec:
    """A certificate EF.

    :ivar ef: file id of the DER certificate (possibly padded after the DER).
    :ivar name: short name.
    :ivar pin: the PIN that must be verified before reading it, or ``None``.
    :ivar pin_on_smartphone: the PIN needed only on smartphone JPKI tokens (GP-SE).
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


class PinEnum(enum.Enum):
    """Base of an application's PIN enum (``JpkiPin``...): each member's value is a
    :class:`PinSpec`."""

    @property
    def spec(self) -> PinSpec:
        spec: PinSpec = self.value
        return spec


class CertEnum(enum.Enum):
    """Base of an application's certificate enum: each member's value is a :class:`CertSpec`."""

    @property
    def spec(self) -> CertSpec:
        spec: CertSpec = self.value
        return spec


class KeyEnum(enum.Enum):
    """Base of an application's key enum: each member's value is a :class:`KeySpec`."""

    @property
    def spec(self) -> KeySpec:
        spec: KeySpec = self.value
        return spec
