"""One error tree for the whole library.

Every error raised on purpose by jukicard derives from :class:`JukiError`.  Errors carry
facts (status word, retries left, revocation date) as attributes, not only a message, so a
terminal application can decide what to tell the counter staff.

::

    JukiError
    ├── TransportError            no reader, PC/SC failure, dead reader
    │   ├── NoReaderError
    │   ├── ReaderUnavailableError
    │   ├── CardRemovedError
    │   ├── CardResetError         all card state (selected AP, verified PINs) is gone
    │   ├── SharingViolationError  another process holds the card past our bounded wait
    │   └── TransportTimeoutError
    ├── ApduError                  malformed bytes handed to or returned by the APDU layer
    │   ├── MalformedApduError
    │   └── TlvError
    ├── CardError(sw, data)        a status word other than 9000 that no session translated
    │   ├── PinError(retries_left)
    │   │   └── PinBlockedError
    │   ├── SecurityStatusError    a PIN / key condition is not satisfied
    │   ├── ApplicationNotFound
    │   ├── FileNotFoundOnCard
    │   ├── TextSmError            text-AP secure messaging failed; the session is gone
    │   │   ├── TextSmKeyRejectedError  SET SESSION KEY refused (6A80 / 6F00)
    │   │   ├── TextSmDestroyedError    the card destroyed the session (6988, 69FC...)
    │   │   ├── TextSmResponseError     a response that does not decrypt / fit
    │   │   └── TextSmClosedError       used after it broke or closed (nothing sent)
    │   └── BadResponse            the card answered 9000 with data we cannot accept
    │       └── DataIntegrityError card data does not match its signature (tampered)
    │           ├── IssuerKeyMismatchError  the card's CV certificate does not verify
    │           │                           under the trusted issuer key given
    │           │   └── CvCaSignatureError  it names a CV CA the policy trusts but
    │           │                           is not signed by it (forged, altered)
    │           ├── UntrustedIssuerError    the CV certificate names a CA the policy
    │           │   │                       does not trust (a test CA in production)
    │           │   └── CvCaApplicationError  it names a CA of another application
    │           │                             (a visual-AP CA on the text AP...)
    │           └── CardAuthenticationError the card did not prove it holds the key
    │                                       its signed records carry (clone, replay)
    ├── ValidationError            certificate / CRL / signature checks (see jukicard.pki)
    │   ├── RevokedError(reason, revoked_at)
    │   ├── ExpiredError
    │   └── IndeterminateError     no usable revocation data: never reported as valid
    ├── UsageError                 the caller passed something wrong
    │   └── PinFormatError         a PIN of the wrong format (nothing was sent)
    ├── OutputError                a result could not be delivered: writing it failed (full
    │                              disk, closed stdout) or its path changed after the check
    └── KeyStoreError              the PKCS#11 key store (jukicard.keys) failed
        ├── KeyStoreUnavailableError  module not loadable, token label absent or ambiguous
        ├── KeyStorePinError          the token PIN: no PIN configured, wrong, locked
        │   ├── KeyStorePinMissingError
        │   ├── KeyStorePinIncorrectError
        │   └── KeyStorePinLockedError
        ├── KeyNotFoundError          no (or more than one) key with that label
        ├── MechanismUnsupportedError the token lacks a mechanism jukicard needs
        └── KeyOperationError         any other token failure during an operation

NOTE: messages never contain PIN values or personal data read from a card.
"""

from __future__ import annotations

import datetime as _dt

__all__ = [
    "VeinError",
    "VeinDeviceError",
    "CaptureTimeout",
    "CaptureCancelled",
    "DeviceRemoved",
    "LowQuality",
    "PresentationAttackSuspected",
    "DeviceFault",
    "VeinMatcherError",
    "TemplateFormatError",
    "EnrolmentFailed",
    "CalibrationError",
    "TemplateStoreError",
    "TemplateIntegrityError",
    "TemplateNotFound",
    "PluginError",
    "PluginNotAllowed",
    "PluginNotFound",
    "JukiError",
    "TransportError",
    "NoReaderError",
    "ReaderUnavailableError",
    "CardRemovedError",
    "CardResetError",
    "SharingViolationError",
    "TransportTimeoutError",
    "ApduError",
    "MalformedApduError",
    "TlvError",
    "CardError",
    "PinError",
    "PinBlockedError",
    "SecurityStatusError",
    "ApplicationNotFound",
    "FileNotFoundOnCard",
    "BadResponse",
    "DataIntegrityError",
    "IssuerKeyMismatchError",
    "UntrustedIssuerError",
    "CvCaSignatureError",
    "CvCaApplicationError",
    "CardAuthenticationError",
    "TextSmError",
    "TextSmKeyRejectedError",
    "TextSmDestroyedError",
    "TextSmResponseError",
    "TextSmClosedError",
    "ValidationError",
    "RevokedError",
    "ExpiredError",
    "IndeterminateError",
    "UsageError",
    "PinFormatError",
    "OutputError",
    "KeyStoreError",
    "KeyStoreUnavailableError",
    "KeyStorePinError",
    "KeyStorePinMissingError",
    "KeyStorePinIncorrectError",
    "KeyStorePinLockedError",
    "KeyNotFoundError",
    "MechanismUnsupportedError",
    "KeyOperationError",
    "tries_left_text",
]


def tries_left_text(n: int) -> str:
    """``"1 try left"``, ``"0 tries left"``, ``"3 tries left"``: the one wording of a retry
    counter in every message (singular for exactly one)."""
    return f"{n} try left" if n == 1 else f"{n} tries left"


class JukiError(Exception):
    """Base class of every error jukicard raises on purpose."""


# --------------------------------------------------------------------------- transport
class TransportError(JukiError):
    """The reader or the PC/SC service failed, or the card went away.

    :ivar pcsc_code: the PC/SC return code behind the error, when there was one.
    :ivar pcsc_name: its symbolic name (``SCARD_W_REMOVED_CARD``...).
    """

    pcsc_code: int | None = None
    pcsc_name: str | None = None


class NoReaderError(TransportError):
    """No reader is attached, or the named reader does not exist."""


class ReaderUnavailableError(TransportError):
    """The reader exists but cannot be used (unplugged, PC/SC service down, dead reader)."""


class CardRemovedError(TransportError):
    """The card was removed (or never inserted) while we needed it."""


class CardResetError(TransportError):
    """The card was reset by someone else; every piece of card state is gone.

    The selected application and every verified PIN are lost.  The transport has already
    reconnected when this is raised, but it never re-sends a command on its own: the caller
    decides whether to start the operation again (and asks the user for a PIN again).
    """


class SharingViolationError(TransportError):
    """Another process kept the card in exclusive use beyond our bounded wait."""


class TransportTimeoutError(TransportError):
    """The reader or service did not answer in time."""


# --------------------------------------------------------------------------- APDU / TLV
class ApduError(JukiError):
    """Bytes that do not form a valid APDU, response or TLV structure."""


class MalformedApduError(ApduError):
    """A command or response APDU could not be encoded or decoded."""


class TlvError(ApduError):
    """A BER-TLV structure is malformed (truncated, bad length, indefinite length...)."""


# --------------------------------------------------------------------------- card
class CardError(JukiError):
    """The card answered with a status word other than 9000.

    :ivar sw: the 16-bit status word.
    :ivar data: response data that came with it (often empty).
    """

    def __init__(self, sw: int, data: bytes = b"", message: str | None = None) -> None:
        self.sw = sw
        self.data = bytes(data)
        super().__init__(message or f"card returned SW {sw:04X}")


class PinError(CardError):
    """A PIN (or 照合番号) was rejected.

    :ivar retries_left: tries left on the card after this attempt, or ``None`` if the
        card did not say.
    :ivar counter_implausible: the card reported more tries left than the PIN allows (e.g.
        ``63CF`` for a 3-try PIN); :attr:`retries_left` was clamped to the PIN's maximum.
    """

    def __init__(
        self,
        retries_left: int | None,
        sw: int = 0x63C0,
        message: str | None = None,
        *,
        counter_implausible: bool = False,
    ) -> None:
        self.retries_left = retries_left
        self.counter_implausible = counter_implausible
        if message is None:
            message = (
                f"wrong PIN, {tries_left_text(retries_left)}"
                if retries_left is not None
                else "wrong PIN"
            )
        super().__init__(sw, b"", message)


class PinBlockedError(PinError):
    """The PIN has no tries left.

    NOTE: a blocked JPKI PIN can only be reset at the municipal counter (or, for one of the
    two JPKI PINs, at a kiosk with the other PIN).
    """

    def __init__(self, sw: int = 0x6984, message: str | None = None) -> None:
        super().__init__(0, sw, message or "PIN is blocked (no tries left)")


class SecurityStatusError(CardError):
    """The card refused because a PIN or key condition is not satisfied (6982)."""


class ApplicationNotFound(CardError):
    """The application (AID) is not on this card (6A82 on SELECT by DF name)."""


class FileNotFoundOnCard(CardError):
    """An elementary file is missing in the selected application (6A82 on SELECT EF)."""


class BadResponse(CardError):
    """The card answered 9000 but the data is not what the protocol allows.

    NOTE: the message never echoes the data itself (it may be personal data).
    """

    def __init__(self, message: str, sw: int = 0x9000, data: bytes = b"") -> None:
        super().__init__(sw, data, message)


class DataIntegrityError(BadResponse):
    """Card data does not match its signature or digest (tampered or inconsistent EFs)."""


class IssuerKeyMismatchError(DataIntegrityError):
    """The card's CV certificate does not verify under the trusted issuer key the caller
    gave: the key is not the one that certified this card's data-signing key (a wrong key
    file, or a card that issuer did not certify)."""


class UntrustedIssuerError(DataIntegrityError):
    """The card's CV certificate names a CV CA key the card-authentication policy does not
    trust: no trusted key has that id, or the only one is a test key and the policy is the
    production one.

    :ivar ca_key_id: the 16-byte CA key id (CAR) the card named (public data).
    """

    def __init__(self, message: str, ca_key_id: bytes = b"") -> None:
        super().__init__(message)
        self.ca_key_id = bytes(ca_key_id)


class CvCaApplicationError(UntrustedIssuerError):
    """The card's CV certificate names a trusted CV CA of another application: the
    visual-AP or MF CA on the 券面事項入力補助AP, the text-AP CA on the 券面事項確認AP
    (CARDAUTH-6).  Refused before any signature is checked.

    :ivar ca_key_id: the CA key id (CAR) the card named.
    :ivar expected: the ids the policy trusts for this application (caller keys bound to
        no application included).
    :ivar application: the application whose certificate was checked.
    """

    def __init__(self, message: str, ca_key_id: bytes = b"",
                 expected: tuple[bytes, ...] = (), application: str = "") -> None:
        super().__init__(message, ca_key_id)
        self.expected = tuple(bytes(e) for e in expected)
        self.application = application


class CvCaSignatureError(IssuerKeyMismatchError):
    """The card's CV certificate names a CV CA key the card-authentication policy trusts,
    but does not verify under that key: a forged or altered CV certificate.  Unlike its
    base, never a wrong key file of the caller's (review of issue 11)."""


class CardAuthenticationError(DataIntegrityError):
    """The card did not prove that it holds the private key its signed records carry: the
    challenge signature does not verify (a cloned card with the right data but another key,
    a replayed signature over an old challenge) or the card key record is not signed by
    the certified issuer key."""


# ----------------------------------------------- issue 11 part A: text-AP secure messaging
class TextSmError(CardError):
    """Secure messaging on the 券面事項入力補助AP failed; the secure session is gone (the
    host object refuses every later use).  ``sw`` is the card's status word, or ``9000``
    when the card answered success but the host could not accept the answer."""


class TextSmKeyRejectedError(TextSmError):
    """SET SESSION KEY was refused: the seed was not encrypted to this card's key (``6A80``:
    it decrypts to something else; ``6F00``: the cryptogram is not below the modulus)."""


class TextSmDestroyedError(TextSmError):
    """The card destroyed the session (``6988``: it could not unwrap a command — wrong
    counter, tag, data object or padding) or has none any more (``69FC``, ``6987``,
    ``6882``)."""


class TextSmResponseError(TextSmError):
    """A secure-messaging response did not decrypt, unpad or have the expected shape
    (tampered, replayed or from another counter value), or its status word says the card did
    not take the command as sent (its counter may be out of step); the host destroyed the
    session."""


class TextSmClosedError(TextSmError):
    """The secure session was already broken or closed: nothing was sent."""


# --------------------------------------------------------------------------- validation
class ValidationError(JukiError):
    """A certificate, CRL or signature did not validate.

    :ivar reason: a short machine-readable reason code (e.g. ``"revoked"``).
    """

    reason: str = "invalid"

    def __init__(self, message: str, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(message)


class RevokedError(ValidationError):
    """A certificate in the path is revoked.

    :ivar revocation_reason: the CRL reason code name (``"keyCompromise"``...), or None.
    :ivar revoked_at: the revocation date from the CRL.
    """

    reason = "revoked"

    def __init__(
        self,
        message: str,
        revocation_reason: str | None = None,
        revoked_at: _dt.datetime | None = None,
    ) -> None:
        self.revocation_reason = revocation_reason
        self.revoked_at = revoked_at
        super().__init__(message)


class ExpiredError(ValidationError):
    """A certificate is outside its validity period at the validation time."""

    reason = "certificate-expired"


class IndeterminateError(ValidationError):
    """The status could not be determined (no usable CRL...).  Never treated as valid."""

    reason = "revocation-status-undetermined"


# --------------------------------------------------------------------------- usage
class UsageError(JukiError):
    """The caller passed something wrong (bad argument, PIN of the wrong format...)."""


class PinFormatError(UsageError):
    """A PIN (or 照合番号) does not have the format its IEF requires.

    Raised *before* anything is sent to the card (so no retry counter is touched), or if the
    card itself rejects the length (``6700``), which means the layout does not fit the card.
    NOTE: the message never contains the PIN.
    """


# --------------------------------------------------------------------------- output
class OutputError(JukiError):
    """A result could not be delivered: the work was done (a signature made, data read) but
    writing it failed (a full disk, a closed stdout) or its output path no longer named what
    was checked before the PIN was asked.  The message says the result was NOT delivered.

    :ivar option: the option of the output (``-o``, ``--cert-out``), ``None`` for stdout.
    :ivar path: the output path as given, ``None`` for stdout.
    """

    def __init__(self, message: str, *, option: str | None = None,
                 path: str | None = None) -> None:
        super().__init__(message)
        self.option = option
        self.path = path


# --------------------------------------------------------------------------- key store
class KeyStoreError(JukiError):
    """The PKCS#11 key store (:mod:`jukicard.keys`) failed.

    NOTE: messages name the token label, the key label and the PKCS#11 error class, never a
    PIN or key bytes.
    """


class KeyStoreUnavailableError(KeyStoreError):
    """The PKCS#11 module cannot be loaded, or no (or more than one) token has the label."""


class KeyStorePinError(KeyStoreError):
    """The token's user PIN could not be used (see the subclasses)."""


class KeyStorePinMissingError(KeyStorePinError):
    """No PIN is configured: the PIN source (environment variable or file) is unset or
    empty.  Nothing was sent to the token."""


class KeyStorePinIncorrectError(KeyStorePinError):
    """The token rejected the PIN (``CKR_PIN_INCORRECT``)."""


class KeyStorePinLockedError(KeyStorePinError):
    """The token's user PIN is locked (``CKR_PIN_LOCKED``)."""


class KeyNotFoundError(KeyStoreError):
    """No key with the label is in the token, or more than one is (an ambiguous label is
    refused rather than guessed)."""


class MechanismUnsupportedError(KeyStoreError):
    """The token does not offer a mechanism jukicard needs (``CKR_MECHANISM_INVALID``).

    :ivar mechanisms: the names of the missing mechanisms.
    """

    def __init__(self, message: str, mechanisms: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.mechanisms = mechanisms


class KeyOperationError(KeyStoreError):
    """Any other token failure during a key operation (the PKCS#11 error class is named)."""


# --------------------------------------------------------------------------- jukicard protocol
# Issue 11, part B ("the system proves itself"): the jukicard protocol — our own ISO/IEC
# 9798-2 mutual authentication + ISO 7816-4 secure messaging (jukicard.card.mutual,
# jukicard.card.iso_sm).  NOT 住基ネット's protocol.  Named ``Jukicard...`` so the text AP's
# real secure messaging (part A) can keep its own ``SecureMessagingError`` family.
class JukicardProtocolError(CardError):
    """The jukicard protocol failed.  The protocol session it belonged to is closed: it
    authenticates nothing and refuses every later use (nothing is left half-authenticated).

    NOTE: messages never carry keys, cryptograms' plaintexts or card data.
    """

    def __init__(self, message: str, sw: int = 0x9000, data: bytes = b"") -> None:
        super().__init__(sw, data, message)


class MutualAuthenticationError(JukicardProtocolError):
    """Mutual authentication failed: the card rejected the terminal's cryptogram (wrong key:
    ``63Cx``, :attr:`retries_left` set), or the card's answer did not prove the card holds
    its per-card key (a cloned card, another card's key, a tampered or replayed answer).

    :ivar retries_left: authentication attempts the card has left (``63Cx``), else ``None``.
    """

    def __init__(self, message: str, sw: int = 0x9000, *,
                 retries_left: int | None = None) -> None:
        super().__init__(message, sw)
        self.retries_left = retries_left


class MutualAuthenticationCardError(MutualAuthenticationError):
    """The CARD failed to prove itself (the terminal refused the card): its answer to MUTUAL
    AUTHENTICATE is not a cryptogram under this card's key with this run's challenges — a
    cloned card, another card's key, a tampered or replayed answer.  (Review of issue 11: the
    CLI reports it like a card that fails card authentication, exit 5.)"""


class MutualAuthenticationBlockedError(MutualAuthenticationError):
    """The card's failed-authentication counter is exhausted (``6983``): the card refuses
    every further mutual authentication of this application."""

    def __init__(self, message: str, sw: int = 0x6983) -> None:
        super().__init__(message, sw, retries_left=0)


class JukicardSecureMessagingError(JukicardProtocolError):
    """A protected command or response failed its checks (wrong MAC, send sequence counter
    replayed or skipped, missing or malformed data objects, ``6987``/``6988`` from the
    card).  The secure channel is destroyed on both sides."""


class JukicardSessionClosedError(JukicardProtocolError):
    """The protocol session is not (or no longer) authenticated: never authenticated, closed,
    broken by an earlier failure, or the card was reset / another application selected."""


# ---------------------------------------------------------------- vein operator check (issue 12)
class VeinError(JukiError):
    """The 静脈認証 (vein) operator check failed to reach a decision.  Never carries image
    data, templates or scores that identify a person; a mismatch is a decision, not this."""


class VeinDeviceError(VeinError):
    """The capture device could not deliver a usable capture."""


class CaptureTimeout(VeinDeviceError):
    """No finger was presented within the time allowed."""


class CaptureCancelled(VeinDeviceError):
    """The capture was cancelled (by the caller, from another thread)."""


class DeviceRemoved(VeinDeviceError):
    """The device, or the finger, went away during the capture."""


class LowQuality(VeinDeviceError):
    """The capture's quality is below the minimum (a failure to acquire, FTA): it is not a
    mismatch and is counted separately."""

    def __init__(self, message: str, *, quality: int | None = None) -> None:
        super().__init__(message)
        self.quality = quality


class PresentationAttackSuspected(VeinDeviceError):
    """The device's presentation-attack detection says "attack": the login policy locks the
    vein factor at once."""

    def __init__(self, message: str, *, score: float | None = None) -> None:
        super().__init__(message)
        self.score = score


class DeviceFault(VeinDeviceError):
    """The device or its driver failed (hardware, firmware, a helper process)."""


class VeinMatcherError(VeinError):
    """The matcher cannot decide."""


class TemplateFormatError(VeinMatcherError):
    """A template of another format or version than the matcher's: never compared."""


class EnrolmentFailed(VeinMatcherError):
    """The enrolment captures cannot make a reference (a failure to enrol, FTE)."""


class CalibrationError(VeinMatcherError):
    """The requested maximum false-match rate is below what the matcher's calibration table
    can support (3 / impostor trials), or the table is missing or inconsistent."""


class TemplateStoreError(VeinError):
    """The template store cannot be used (file, schema, key)."""


class TemplateIntegrityError(TemplateStoreError):
    """A stored record failed its integrity check: it counts as "no reference", never as a
    match."""


class TemplateNotFound(TemplateStoreError):
    """No (non-revoked) reference for that operator or record."""


class PluginError(VeinError):
    """A vein plugin could not be loaded."""


class PluginNotAllowed(PluginError):
    """A plugin exists but is not on the allow-list (name, distribution, version)."""


class PluginNotFound(PluginError):
    """No installed plugin has that name in its entry-point group."""
