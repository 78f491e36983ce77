"""Card authentication ("the card proves itself") on the 券面事項入力補助AP: data objects,
trust anchors and the offline check.

The chain (``card-security.md`` §2)::

    J-LIS CV CA key (given by the caller, :class:`CvCaKey`)
      └─ CV certificate, EF 0004 (certifies the AP's issuer key)
           └─ signed card key, EF 0007 ``FF 50 { DF 51 key, DF 52 signature }``
                └─ the card's answer to ``80 2A 00 00 <DigestInfo(SHA-256(message))>``

The session half is :meth:`jukicard.card.text.TextSession.authenticate_card` (and the
visual AP's); the two APDUs both APs answer (GET CHALLENGE, ``80 2A``) are
:func:`exchange_challenge_signature`, which sends through the function it is given.
Everything else here is pure.

Decisions where the reference is silent (labelled ``CARDAUTH-n``; revisit against a card):

* CARDAUTH-1 — the signed message is the card's 16-byte GET CHALLENGE answer followed by
  16 bytes from the host's own CSPRNG.  The reference gives the APDU and a 16-byte
  challenge, not who picks it; the card signs whatever DigestInfo it is given.  The host
  half makes freshness the host's: a clone replaying a recorded (challenge, signature)
  pair, or a card whose GET CHALLENGE repeats, cannot pass.
* CARDAUTH-2 — ``DF 51`` holds ``90 <e> 91 <n>`` (the layout of the CV certificate body
  and of EF ``0006``; 265 bytes for RSA-2048 as measured) and ``DF 52`` is RSA PKCS#1 v1.5
  SHA-256 by the EF ``0004`` key over every byte of the ``FF 50`` value before ``DF 52``
  (the ``DF 51`` TLV) — the rule EF ``0003`` follows.
* CARDAUTH-3 — a CV CA key is production only when its id starts with ASCII ``5``; an id
  starting with ``6`` is a test key (§2), and any other id (jukicard's pkigen uses
  ``999…``) can only be a test key.  The flag is given explicitly with the key
  (:attr:`CvCaKey.production`) and checked against the id; a production
  :class:`CardAuthPolicy` refuses a test key when it is built, and a card whose CV
  certificate names a CA that is not in the policy is refused
  (:class:`~jukicard.errors.UntrustedIssuerError`).
* CARDAUTH-4 — no PIN is needed for the signature (§8: "the ``0013`` key needs no PIN"),
  but EF ``0007`` needs the PIN or either 照合番号; the session VERIFYs only with a value the
  caller gave for that call.
* CARDAUTH-5 (review of issue 11) — a policy holding two different keys under one id is
  refused when it is built: the CAR names the key, so a caller's extra key with a bundled
  key's id would otherwise be ignored without a word (the first match wins).
* CARDAUTH-6 (review of issue 11) — a CV CA is bound to its application.  A bundled key
  carries its manifest ``level`` as :attr:`CvCaKey.application` (``"MF"``, ``"visual"``,
  ``"text"``): the text AP accepts only the text CA ids (``5000033``/``6000033``), the
  visual AP only the visual ones (``5000023``/``6000023``), and the MF CA neither; a
  mismatch is :class:`~jukicard.errors.CvCaApplicationError`, naming the expected and
  found ids, raised before any signature is checked.  A caller-supplied key
  (``--ca-key``, ``cvca.policy(extra=...)``) has no application unless the caller gives
  one (``CvCaKey(..., application="text")``): then it is accepted for any AP — the caller
  vouched for it, and the emulated cards' pkigen CA certifies both APs — but every result
  says ``ca_source: "caller"`` (never ``"bundled"``), so a reader can tell J-LIS's keys
  from the caller's.
* CARDAUTH-7 (review of issue 11) — honest labels.  A result checked under a policy says
  which key: ``ca_key_id``, ``ca_kind`` (``production``/``test``) and ``ca_source``
  (``bundled``/``caller``).  A bare issuer key (``read_verified(issuer_key=...)``: no CV CA
  id, no production flag) is labelled ``verified-to-jlis-ca`` only when its numbers are
  those of a bundled J-LIS key (and then it reports that key); any other key gives
  :attr:`TrustLevel.VERIFIED_TO_CALLER_KEY` (``"verified-to-caller-key"``): the chain
  verified, but up to a key nobody identified as J-LIS's.
* CARDAUTH-8 (verification review of issue 11) — a CV CA key read from a caller's file
  (:func:`jukicard.services.genuineness.load_cv_ca_key`, ``--ca-key``) is production only
  when it is a bundled J-LIS key (same id and numbers); an id starting with ``5`` is the
  file's own claim, so any other file key is a test key.  The services check the AP's
  public CV certificate against the policy before asking for a credential
  (:func:`jukicard.services.genuineness.check_ca_first`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu import sw as _sw
from jukicard.apdu.apps.text import CARD_AUTH_CHALLENGE_LEN
from jukicard.apdu.command import CommandApdu, ResponseApdu
from jukicard.card.codec import (
    container,
    rsa_key_tlvs,
    rsa_numbers,
    rsa_public_key,
    rsa_sign,
    rsa_verify,
    tlv,
)
from jukicard.card.crypto import HashAlg, build_digest_info, digest_message
from jukicard.card.cvc import CV_ID_LEN, CvCertificate
from jukicard.card.session import Ins
from jukicard.errors import (
    BadResponse,
    CardAuthenticationError,
    CvCaApplicationError,
    CvCaSignatureError,
    DataIntegrityError,
    IssuerKeyMismatchError,
    UntrustedIssuerError,
    UsageError,
)

__all__ = [
    "TrustLevel",
    "CvCaKey",
    "CardAuthPolicy",
    "check_ca_application",
    "SignedCardKey",
    "CardAuthResult",
    "DataAuthenticity",
    "NOT_CHECKED",
    "CA_APPLICATIONS",
    "CA_SOURCES",
    "HOST_NONCE_LEN",
    "checked_policy",
    "host_nonce",
    "challenge_message",
    "challenge_digest_info",
    "exchange_challenge_signature",
    "verify_card_authentication",
]

#: Bytes of host randomness appended to the card's challenge (CARDAUTH-1).
HOST_NONCE_LEN = 16
_PRODUCTION_PREFIX = ord("5")
_TEST_PREFIX = ord("6")
_WHAT = "signed card key EF"


class TrustLevel(enum.Enum):
    """How far a card-authentication result reaches."""

    #: The whole chain checked up to a J-LIS CV CA key the caller trusts.
    VERIFIED_TO_JLIS_CA = "verified-to-jlis-ca"
    #: The card holds the key its records carry and the records verify under the EF
    #: ``0004`` key, but that key was checked against no CA: a forged card supplying its
    #: own CV certificate would pass.
    SELF_CONSISTENT_ONLY = "self-consistent-only"
    #: Genuineness was not checked (e.g. the card has no AP that can prove itself).
    NOT_CHECKED = "not-checked"
    #: The CV certificate verified under a bare RSA key the caller passed, which is not a
    #: bundled J-LIS key (CARDAUTH-7): as far as the caller's key goes, no further.
    VERIFIED_TO_CALLER_KEY = "verified-to-caller-key"


#: :attr:`CvCaKey.application` values (the manifest's ``level``).
CA_APPLICATIONS = ("MF", "visual", "text")
#: :attr:`CvCaKey.source` values.
CA_SOURCES = ("bundled", "caller")


def _id_text(key_id: bytes) -> str:
    """A key id for messages: its leading ASCII digits (public data)."""
    return key_id[:7].decode("ascii", "replace")


@dataclass(frozen=True)
class CvCaKey:
    """A J-LIS CV CA public key a caller trusts.

    :ivar key_id: the 16-byte key id (the CAR of the certificates it issues).
    :ivar public_key: its RSA public key.
    :ivar production: True for a production J-LIS key, False for a test key (CARDAUTH-3).
    :ivar provenance: where the key came from (a file, a publication), for reports.
    :ivar application: the AP whose CV certificates this CA issues (``"MF"``,
        ``"visual"``, ``"text"``) or ``None`` for any (a caller's key; CARDAUTH-6).
    :ivar source: ``"bundled"`` (:mod:`jukicard.card.cvca`) or ``"caller"`` (default).
    :raises UsageError: an id that is not 16 bytes, a key that is not an RSA public key,
        ``production=True`` for an id that does not start with ``5``, or an unknown
        application / source.
    """

    key_id: bytes
    public_key: rsa.RSAPublicKey = field(repr=False, compare=False)
    production: bool
    provenance: str = ""
    application: str | None = None
    source: str = "caller"

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, bytes) or len(self.key_id) != CV_ID_LEN:
            raise UsageError(f"a CV CA key id is {CV_ID_LEN} bytes")
        if not isinstance(self.public_key, rsa.RSAPublicKey):
            raise UsageError("a CV CA key must be an RSA public key, got a "
                             f"{type(self.public_key).__name__}")
        if self.production and self.key_id[0] != _PRODUCTION_PREFIX:
            kind = "a test key id" if self.key_id[0] == _TEST_PREFIX else "not a production id"
            raise UsageError(f"CV CA key {_id_text(self.key_id)} is {kind}: it cannot be "
                             "flagged production")
        if self.application is not None and self.application not in CA_APPLICATIONS:
            raise UsageError(f"a CV CA key's application is one of {CA_APPLICATIONS}")
        if self.source not in CA_SOURCES:
            raise UsageError(f"a CV CA key's source is one of {CA_SOURCES}")

    @property
    def kind(self) -> str:
        """``"production"`` or ``"test"``."""
        return "production" if self.production else "test"

    def serves(self, application: str | None) -> bool:
        """True if this CA may certify ``application``'s keys (CARDAUTH-6): always for a key
        bound to no application, or when no application is asked about."""
        return application is None or self.application in (None, application)

    @classmethod
    def from_cv_certificate(
        cls, cert: CvCertificate, *, production: bool, provenance: str = ""
    ) -> CvCaKey:
        """The CA key of a (self-issued) CV CA certificate: its CHR and public key.

        :raises UsageError: as the constructor; or the certificate's key is unusable.
        """
        try:
            key = cert.public_key()
        except BadResponse as exc:
            raise UsageError("the CV CA certificate holds no usable RSA key") from exc
        return cls(cert.chr, key, production, provenance)


def check_ca_application(
    anchor: CvCaKey, application: str | None, car: bytes, candidates: tuple[CvCaKey, ...]
) -> None:
    """Refuse ``anchor`` for ``application`` if it is another application's CA
    (CARDAUTH-6).

    :param car: the id the card's CV certificate names (for the message).
    :param candidates: the keys that were on offer (the expected ids are theirs).
    :raises CvCaApplicationError: ``anchor`` does not serve ``application``.
    """
    if anchor.serves(application):
        return
    expected = tuple(a.key_id for a in candidates if a.serves(application))
    names = ", ".join(_id_text(k) for k in expected) or "none of the trusted keys"
    raise CvCaApplicationError(
        f"the card's {application}-AP CV certificate names CV CA {_id_text(car)}, the CA "
        f"of the {anchor.application} AP; the {application} AP accepts {names}",
        car, expected, str(application))


@dataclass(frozen=True)
class CardAuthPolicy:
    """Which CV CA keys card authentication trusts (immutable; build once, reuse).

    :param anchors: the trusted CV CA keys.
    :param production: the production policy (default) refuses every test key.
    :raises UsageError: no anchors, a test key under the production policy, or two
        different keys with one id (CARDAUTH-5).
    """

    anchors: tuple[CvCaKey, ...]
    production: bool = True

    def __post_init__(self) -> None:
        try:
            anchors = tuple(self.anchors)
        except TypeError:
            raise UsageError("anchors must be a sequence of CvCaKey") from None
        if not anchors or not all(isinstance(a, CvCaKey) for a in anchors):
            raise UsageError("a card-authentication policy needs at least one CvCaKey")
        if self.production:
            for a in anchors:
                if not a.production and a.source == "caller":
                    where = f" ({a.provenance})" if a.provenance else ""
                    raise UsageError(f"the caller's CV CA key {_id_text(a.key_id)}{where} "
                                     "is no bundled J-LIS production key, so it is trusted "
                                     "as a test key only: refused under the production "
                                     "policy")
                if not a.production:
                    raise UsageError(f"CV CA key {_id_text(a.key_id)} is a test key: refused "
                                     "under the production policy")
        seen: dict[bytes, rsa.RSAPublicNumbers] = {}
        for a in anchors:  # CARDAUTH-5
            numbers = a.public_key.public_numbers()
            if seen.setdefault(a.key_id, numbers) != numbers:
                raise UsageError(f"two different CV CA keys have the id {_id_text(a.key_id)}")
        object.__setattr__(self, "anchors", anchors)

    def anchor_for(self, car: bytes) -> CvCaKey:
        """The trusted key with id ``car``.

        :raises UntrustedIssuerError: none (e.g. a card certified by a test CA under the
            production policy).
        """
        for a in self.anchors:
            if a.key_id == car:
                return a
        kind = "production" if self.production else "test"
        raise UntrustedIssuerError(f"the card's CV certificate names CV CA "
                                   f"{_id_text(car)}, which the {kind} policy does not trust",
                                   car)

    def check_cv_certificate(self, cv: CvCertificate,
                             application: str | None = None) -> CvCaKey:
        """The trusted key the card's CV certificate names (CAR), once the certificate
        verifies under it.

        :param application: the AP the certificate was read from (``"text"``,
            ``"visual"``): a CA bound to another application is refused (CARDAUTH-6).
            ``None`` checks no binding.
        :raises UntrustedIssuerError: no trusted key has that id.
        :raises CvCaApplicationError: (an :class:`UntrustedIssuerError`) the key with that
            id is another application's CA.
        :raises CvCaSignatureError: (an :class:`IssuerKeyMismatchError`) the certificate
            does not verify under it: forged or altered.
        """
        anchor = self.anchor_for(cv.car)
        check_ca_application(anchor, application, cv.car, self.anchors)
        try:
            cv.verify_issuer(anchor.public_key)
        except IssuerKeyMismatchError:
            raise CvCaSignatureError(f"the card's CV certificate names CV CA "
                                     f"{_id_text(cv.car)} but is not signed by it") from None
        return anchor


@dataclass(frozen=True)
class SignedCardKey:
    """The text AP's signed card key, EF ``0007``: ``FF 50 { DF 51 key, DF 52 sig }``
    (CARDAUTH-2).  Public data."""

    exponent: int
    modulus: int
    signature: bytes = field(repr=False)
    signed: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def parse(cls, data: bytes) -> SignedCardKey:
        """Parse EF ``0007`` (trailing padding allowed).

        :raises BadResponse: malformed structure or key numbers.
        """
        _outer, kids = container(data, 0xFF50, _WHAT, (0xDF51, 0xDF52))
        key_tlv = kids[0][1]
        e, n = rsa_numbers(key_tlv.value, _WHAT)
        return cls(e, n, kids[1][1].value, bytes(key_tlv))

    @classmethod
    def create(cls, public_key: rsa.RSAPublicKey, issuer_key: rsa.RSAPrivateKey) -> SignedCardKey:
        """Build and sign EF ``0007`` (test vectors)."""
        nums = public_key.public_numbers()
        unsigned = cls(nums.e, nums.n, b"")
        return cls(nums.e, nums.n, rsa_sign(issuer_key, unsigned.key_tlv), unsigned.key_tlv)

    @property
    def key_tlv(self) -> bytes:
        """The signed bytes: the ``DF 51`` TLV (as read if parsed)."""
        if self.signed:
            return self.signed
        return tlv(0xDF51, rsa_key_tlvs(self.exponent, self.modulus), long_form=True)

    def public_key(self) -> rsa.RSAPublicKey:
        """The card's public key.

        :raises BadResponse: numbers that do not form an RSA key.
        """
        return rsa_public_key(self.exponent, self.modulus, _WHAT)

    def verify_issuer(self, issuer_key: rsa.RSAPublicKey) -> None:
        """Check ``DF 52`` with the issuer key certified in EF ``0004``.

        :raises CardAuthenticationError: it does not verify.
        """
        if not rsa_verify(issuer_key, self.signature, self.key_tlv):
            raise CardAuthenticationError("the card key record (EF 0007) is not signed by "
                                          "the key of the card's CV certificate")

    def __bytes__(self) -> bytes:
        return tlv(0xFF50, self.key_tlv + tlv(0xDF52, self.signature, long_form=True),
                   long_form=True)


def checked_policy(policy: object) -> CardAuthPolicy | None:
    """``policy`` if it is a :class:`CardAuthPolicy` or ``None`` (checked before anything
    is sent, so a wrong argument costs no VERIFY).

    :raises UsageError: anything else.
    """
    if policy is None or isinstance(policy, CardAuthPolicy):
        return policy
    raise UsageError(f"policy must be a CardAuthPolicy, got a {type(policy).__name__}")


def host_nonce(rng: Callable[[int], bytes]) -> bytes:
    """The host half of the signed message (CARDAUTH-1), from ``rng``.

    :raises UsageError: ``rng`` is not callable or gave no :data:`HOST_NONCE_LEN` bytes.
    """
    nonce = rng(HOST_NONCE_LEN) if callable(rng) else None
    if not isinstance(nonce, bytes) or len(nonce) != HOST_NONCE_LEN:
        raise UsageError(f"rng must return {HOST_NONCE_LEN} bytes")
    return nonce


def challenge_message(card_challenge: bytes, host_nonce: bytes) -> bytes:
    """The message the card signs (CARDAUTH-1): card challenge ‖ host nonce."""
    return bytes(card_challenge) + bytes(host_nonce)


def challenge_digest_info(message: bytes) -> bytes:
    """``DigestInfo(SHA-256(message))``, the data of ``80 2A 00 00``."""
    return build_digest_info(HashAlg.SHA256, digest_message(HashAlg.SHA256, message))


def exchange_challenge_signature(
    send: Callable[[CommandApdu], ResponseApdu], nonce: bytes
) -> tuple[bytes, bytes]:
    """The card half of card authentication, inside the caller's operation: GET
    CHALLENGE (16 bytes), then ``80 2A 00 00 <DigestInfo(SHA-256(challenge ‖ nonce))>``
    for the AP's default key (no SELECT, no credential; text and visual AP alike).

    :param send: the session's send (its SW translation stays the caller's).
    :param nonce: the host half of the signed message (:func:`host_nonce`).
    :returns: ``(card challenge, signature)``.
    :raises BadResponse: the card gave a challenge of another length.
    :raises CardError: (a subclass, :func:`jukicard.apdu.sw.check`) either APDU refused.
    """
    resp = send(CommandApdu(0x00, Ins.GET_CHALLENGE, 0x00, 0x00, le=CARD_AUTH_CHALLENGE_LEN,
                            extended=False))
    challenge = _sw.check(resp)
    if len(challenge) != CARD_AUTH_CHALLENGE_LEN:
        raise BadResponse(f"GET CHALLENGE returned {len(challenge)} bytes, not "
                          f"{CARD_AUTH_CHALLENGE_LEN}")
    digest_info = challenge_digest_info(challenge_message(challenge, nonce))
    resp = send(CommandApdu(0x80, Ins.COMPUTE_DIGITAL_SIGNATURE, 0x00, 0x00, digest_info,
                            le=256, extended=False))
    return challenge, _sw.check(resp)


@dataclass(frozen=True)
class CardAuthResult:
    """What a card authentication proved.  Public data only (no personal data).

    :ivar application: the AP that proved itself (``"text"``).
    :ivar level: how far the check reaches (:class:`TrustLevel`).
    :ivar ca_key_id: the CV CA key id the CV certificate names (CAR).
    :ivar ca_production: True/False when checked against a trusted key, else None.
    :ivar issuer_key_id: the id of the key EF ``0004`` certifies (CHR).
    :ivar card_challenge: / :ivar host_nonce: the two halves of the signed message.
    :ivar ca_source: ``"bundled"`` / ``"caller"`` when checked against a trusted key
        (CARDAUTH-6), else None.
    """

    application: str
    level: TrustLevel
    ca_key_id: bytes
    ca_production: bool | None
    issuer_key_id: bytes
    card_challenge: bytes = field(repr=False)
    host_nonce: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    ca_source: str | None = None

    @property
    def verified_to_jlis_ca(self) -> bool:
        """True only for :attr:`TrustLevel.VERIFIED_TO_JLIS_CA`."""
        return self.level is TrustLevel.VERIFIED_TO_JLIS_CA

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (ids as hex)."""
        return {
            "application": self.application,
            "result": self.level.value,
            "ca_key_id": self.ca_key_id.hex().upper(),
            "ca_production": self.ca_production,
            "ca_source": self.ca_source,
            "issuer_key_id": self.issuer_key_id.hex().upper(),
        }


@dataclass(frozen=True)
class DataAuthenticity:
    """How far data read off the card is known to be the card issuer's (issue 11: "card
    data authenticity").  Public data only.

    :ivar level: ``not-checked``; ``self-consistent-only`` (the records verify under the
        key of the card's own CV certificate, which no CA vouched for); ``verified-to-jlis-
        ca`` (that certificate verified under a trusted CV CA key: :attr:`ca_source` says
        whose); ``verified-to-caller-key`` (under a bare key the caller passed, CARDAUTH-7).
    :ivar ca_key_id: the CV CA key id: the trusted key's when verified to a CA, else the
        id the card's CV certificate names (unverified); None when not checked.
    :ivar ca_production: True/False when verified to a CV CA key, else None.
    :ivar ca_source: ``"bundled"`` / ``"caller"`` when a trusted key was used, else None.
    :ivar records: the EFs whose signatures were checked.
    :ivar unsigned_items: items returned that no signature covers (e.g. the visual AP's
        expiry, VIS-1): never authentic, whatever :attr:`level` says.
    """

    level: TrustLevel = TrustLevel.NOT_CHECKED
    ca_key_id: bytes | None = None
    ca_production: bool | None = None
    ca_source: str | None = None
    records: tuple[int, ...] = ()
    unsigned_items: tuple[str, ...] = ()

    @classmethod
    def checked(
        cls,
        cv: CvCertificate,
        anchor: CvCaKey | None,
        *,
        level: TrustLevel = TrustLevel.SELF_CONSISTENT_ONLY,
        records: tuple[int, ...] = (),
        unsigned_items: tuple[str, ...] = (),
    ) -> DataAuthenticity:
        """The label of data whose signatures verified under ``cv``'s key: verified to
        ``anchor`` when given, else ``level`` (self-consistent, or a bare caller key)."""
        if anchor is not None:
            return cls(TrustLevel.VERIFIED_TO_JLIS_CA, anchor.key_id, anchor.production,
                       anchor.source, records, unsigned_items)
        return cls(level, cv.car, None, "caller" if
                   level is TrustLevel.VERIFIED_TO_CALLER_KEY else None,
                   records, unsigned_items)

    @property
    def trust_level(self) -> str:
        """:attr:`level` as its string (``"verified-to-jlis-ca"``...)."""
        return self.level.value

    @property
    def ca_kind(self) -> str | None:
        """``"production"`` / ``"test"`` when verified to a CV CA key, else None."""
        return None if self.ca_production is None else \
            ("production" if self.ca_production else "test")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (ids as hex)."""
        return {
            "trust_level": self.trust_level,
            "ca_key_id": None if self.ca_key_id is None else self.ca_key_id.hex().upper(),
            "ca_kind": self.ca_kind,
            "ca_source": self.ca_source,
            "signed_records": [f"{fid:04X}" for fid in self.records],
            "unsigned_items": list(self.unsigned_items),
        }


#: The label of data read without any check.
NOT_CHECKED = DataAuthenticity()


def verify_card_authentication(
    *,
    application: str,
    cv_ef: bytes,
    card_key_ef: bytes,
    card_challenge: bytes,
    host_nonce: bytes,
    signature: bytes,
    policy: CardAuthPolicy | None,
) -> CardAuthResult:
    """Check a card's answer offline, CA first.

    :param policy: the trusted CV CA keys; ``None`` checks self-consistency only.
    :raises UntrustedIssuerError: the CV certificate names a CA ``policy`` does not trust.
    :raises CvCaSignatureError: (an :class:`IssuerKeyMismatchError`) the CV certificate
        does not verify under that CA key.
    :raises CardAuthenticationError: EF ``0007`` is not signed by the certified key, or the
        challenge signature does not verify under the card key (clone, replay).
    :raises DataIntegrityError: a damaged CV certificate or card key EF.
    """
    policy = checked_policy(policy)
    try:
        cv = CvCertificate.parse(cv_ef)
        issuer_key = cv.public_key()
        card_key = SignedCardKey.parse(card_key_ef)
        card_public = card_key.public_key()
    except DataIntegrityError:
        raise
    except BadResponse as exc:
        raise DataIntegrityError(f"{exc}: card authentication data is damaged") from exc
    anchor = policy.check_cv_certificate(cv, application) if policy is not None else None
    card_key.verify_issuer(issuer_key)
    message = challenge_message(card_challenge, host_nonce)
    if not rsa_verify(card_public, signature, message):
        raise CardAuthenticationError("the card's challenge signature does not verify under "
                                      "the card key its signed record carries (a cloned card "
                                      "or a replayed signature)")
    return CardAuthResult(
        application=application,
        level=(TrustLevel.VERIFIED_TO_JLIS_CA if anchor is not None
               else TrustLevel.SELF_CONSISTENT_ONLY),
        ca_key_id=cv.car,
        ca_production=anchor.production if anchor is not None else None,
        issuer_key_id=cv.chr,
        card_challenge=bytes(card_challenge),
        host_nonce=bytes(host_nonce),
        signature=bytes(signature),
        ca_source=anchor.source if anchor is not None else None,
    )
