"""券面事項入力補助AP (text AP): My Number, 基本4情報 and the AP's signature over them.

Access (card-interface.md §3.2): the 4-digit PIN ``0011`` unlocks everything; 照合番号A
(``0014``, the 12-digit My Number) unlocks the My Number EF only; 照合番号B (``0015``, birth
YYMMDD + expiry year + security code) unlocks the 基本4情報 only.  The facts are in
:mod:`jukicard.apdu.apps.text`, the data objects in :mod:`jukicard.card.text_data`.

NOTE: everything read here is personal data: nothing is logged, and the returned objects
mask themselves in ``repr()``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu.apps import Application
from jukicard.apdu.apps.spec import PinSpec
from jukicard.apdu.apps.text import (
    SM_SEED_LEN,
    TEXT,
    TextEf,
    TextPin,
)
from jukicard.apdu.command import ResponseApdu
from jukicard.card import cvca
from jukicard.card.cardauth import (
    CardAuthPolicy,
    CardAuthResult,
    CvCaKey,
    DataAuthenticity,
    TrustLevel,
    check_ca_application,
    checked_policy,
    exchange_challenge_signature,
    host_nonce,
    verify_card_authentication,
)
from jukicard.card.cvc import CvCertificate
from jukicard.card.session import ApplicationSession
from jukicard.card.text_data import (
    ApBasicInfo,
    BasicInfo,
    MyNumber,
    SignatureCheck,
    TextApSignature,
    VerifiedTextData,
)
from jukicard.card.textsm import SessionKeyPublicKey, TextSecureMessaging, TextSecureSession
from jukicard.errors import BadResponse, DataIntegrityError, UsageError

__all__ = ["TextSession", "DataIntegrityError", "MY_NUMBER_READ_LIMIT", "issuer_public_key"]

log = logging.getLogger(__name__)

#: Largest My Number EF read (17 bytes on the cards; read to EOF so the signed digest,
#: which covers the padding too, can be checked).
MY_NUMBER_READ_LIMIT = 256
#: First tags of the EFs read under secure messaging (a wrong one = a bad response).
_MY_NUMBER_TAG = 0xFF10
_BASIC_INFO_TAG = 0xFF20
_SIGNATURE_TAG = 0xFF30
_CV_TAG = 0x7F21


def _match_a_value(value: MyNumber | str | None) -> str | None:
    if isinstance(value, MyNumber):
        return value.digits
    return value


class TextSession(ApplicationSession[TextPin]):
    """The 券面事項入力補助AP of a My Number card.

    :param channel: the card's channel, or a bare transport (see
        :class:`~jukicard.card.session.ApplicationSession`).
    :param extended: / :param select: see :class:`~jukicard.card.session.ApplicationSession`.
    :raises ApplicationNotFound: no text AP on this card (e.g. a 住基カード).
    """

    APPLICATION: ClassVar[Application] = TEXT
    PINS: ClassVar[tuple[TextPin, ...]] = tuple(TextPin)

    # ------------------------------------------------------------------ reads
    def read_my_number(
        self, *, pin: str | None = None, match_a: MyNumber | str | None = None
    ) -> MyNumber:
        """Read the My Number (個人番号), check digit verified.

        :param pin: the 4-digit text-AP PIN, or
        :param match_a: 照合番号A (the My Number itself).  With neither, an earlier
            :meth:`verify` in the current selection is relied on (the card decides).
        :raises UsageError: both given.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises SecurityStatusError: nothing verified.
        :raises BadResponse: malformed EF or a wrong check digit.
        :raises TransportError: (or a subclass) the card went away.
        """
        unlock = self._unlock([(TextPin.PIN, pin), (TextPin.MATCH_A, _match_a_value(match_a))])
        with self._operation(fresh=unlock is not None):
            if unlock is not None:
                self._verify(*unlock)
            ef = self._read_my_number_ef()
        return MyNumber.parse(ef)

    def read_basic_info(
        self, *, pin: str | None = None, match_b: str | None = None
    ) -> BasicInfo:
        """Read the 基本4情報 (name, address, birth date, sex).

        :param pin: the 4-digit text-AP PIN, or
        :param match_b: 照合番号B (14 digits, see :func:`~jukicard.apdu.apps.make_match_b`).
        :raises UsageError: both given.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises SecurityStatusError: nothing verified.
        :raises BadResponse: malformed EF.
        :raises TransportError: (or a subclass) the card went away.
        """
        unlock = self._unlock([(TextPin.PIN, pin), (TextPin.MATCH_B, match_b)])
        with self._operation(fresh=unlock is not None):
            if unlock is not None:
                self._verify(*unlock)
            ef = self._read_tlv_ef(TextEf.BASIC_INFO, "basic info EF")
        return BasicInfo.parse(ef)

    def read_verified(
        self,
        pin: str,
        *,
        issuer_key: rsa.RSAPublicKey | CvCertificate | None = None,
        policy: CardAuthPolicy | None = None,
    ) -> VerifiedTextData:
        """Read the My Number and the 基本4情報 and check them against the AP's signature EF
        (``0003``) with the key of its CV certificate (``0004``), all in one transaction.

        The signature and both digests are checked over the raw EF bytes before any content
        is parsed.  The result says what the check proved
        (:attr:`VerifiedTextData.signature_check`): without ``issuer_key`` only that the
        data matches the card's own key (``"card-key-only"``: a forged card supplying its
        own key would pass); with it, also that the CV certificate verifies under the
        trusted issuer key (``"trusted-issuer"``).

        :param pin: the 4-digit text-AP PIN (the signature EF needs it).
        :param issuer_key: the trusted CV-certificate issuer key (J-LIS, or the test
            issuer): its RSA public key, or the issuer's own :class:`CvCertificate` (e.g.
            the J-LIS root CV certificate; its public key is used).  Checked before anything
            is sent.
        :param policy: instead of ``issuer_key``: the trusted CV CA keys (e.g.
            :func:`jukicard.card.cvca.policy`); the key the card's CV certificate names
            (CAR) is taken from it — never a key the card supplies.
        :returns: the data and what was checked; unpacks as ``(my_number, basic_info)``;
            :attr:`VerifiedTextData.trust_level` says ``verified-to-jlis-ca``,
            ``verified-to-caller-key`` (a bare ``issuer_key`` that is no bundled J-LIS key,
            CARDAUTH-7) or ``self-consistent-only``; ``ca_source`` / ``ca_kind`` say whose
            key it reached.
        :raises UsageError: ``issuer_key`` is of another type (a private key, an EC key...),
            or both ``issuer_key`` and ``policy`` — nothing was sent, the PIN is not spent.
        :raises UntrustedIssuerError: the CV certificate names a CA ``policy`` lacks.
        :raises CvCaApplicationError: it names another application's CA (CARDAUTH-6).
        :raises IssuerKeyMismatchError: (a :class:`DataIntegrityError`) the card's CV
            certificate does not verify under ``issuer_key``.
        :raises DataIntegrityError: the data does not match the signature (tampered), the
            signature EF or the CV certificate EF is damaged.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises BadResponse: the signed data itself is malformed (e.g. a bad check digit).
        :raises TransportError: (or a subclass) the card went away.
        """
        trusted_key = issuer_public_key(issuer_key)
        policy = checked_policy(policy)
        if policy is not None and trusted_key is not None:
            raise UsageError("give issuer_key or policy, not both")
        spec = self._pin(TextPin.PIN)
        raw = self._encode_pin(spec, pin)
        with self._operation(fresh=True):
            self._verify(spec, raw)
            my_number_ef = self._read_my_number_ef()
            try:
                basic_ef = self._read_tlv_ef(TextEf.BASIC_INFO, "basic info EF")
                sig_ef = self._read_tlv_ef(TextEf.SIGNATURE, "signature EF")
                cv_ef = self._read_tlv_ef(TextEf.CV_CERTIFICATE, "CV certificate EF")
            except DataIntegrityError:
                raise
            except BadResponse as exc:  # a signed EF that cannot even be read whole
                raise DataIntegrityError(f"{exc}: the signed data is damaged") from exc
        result = _verified_data(my_number_ef, basic_ef, sig_ef, cv_ef, trusted_key, policy)
        log.info("text AP data read and its signature verified (%s)", result.trust_level)
        return result

    def read_cv_certificate(self) -> CvCertificate:
        """Read the CV certificate (EF ``0004``) of the AP's data-signing key (no PIN).

        :raises BadResponse: malformed EF.
        :raises SecurityStatusError: the card wants a PIN for it.
        """
        with self._operation():
            ef = self._read_tlv_ef(TextEf.CV_CERTIFICATE, "CV certificate EF")
        return CvCertificate.parse(ef)

    def read_ap_basic_info(self) -> ApBasicInfo:
        """Read the AP basic info (EF ``0005``, no PIN).

        :raises BadResponse: malformed EF.
        """
        with self._operation():
            ef = self._read_tlv_ef(TextEf.AP_BASIC_INFO, "AP basic info EF")
        return ApBasicInfo.parse(ef)

    def authenticate_card(
        self,
        *,
        pin: str | None = None,
        match_a: MyNumber | str | None = None,
        match_b: str | None = None,
        policy: CardAuthPolicy | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> CardAuthResult:
        """Have the card prove it holds the key its signed records carry (card
        authentication, :mod:`jukicard.card.cardauth`), all in one transaction.

        Reads the CV certificate (EF ``0004``) and the signed card key (EF ``0007``), asks
        for a 16-byte GET CHALLENGE, and has the AP's default key sign
        ``DigestInfo(SHA-256(challenge ‖ host nonce))`` with ``80 2A 00 00``; then checks
        CA → CV certificate → card key → signature offline.

        :param pin: / :param match_a: / :param match_b: at most one credential (EF ``0007``
            needs one); VERIFY is sent once, only with a value given here.  With none, an
            earlier :meth:`verify` in the current selection is relied on.
        :param policy: the trusted J-LIS CV CA keys; ``None`` gives a
            ``self-consistent-only`` result at best.
        :param rng: the host's CSPRNG for the nonce (tests pass a fixed one).
        :returns: the result; its ``level`` says how far the check reaches.
        :raises UsageError: more than one credential, or ``rng`` gave no 16 bytes.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises SecurityStatusError: no credential verified for EF ``0007``.
        :raises UntrustedIssuerError: the card's CV CA is not in ``policy`` (e.g. a test CA
            under the production policy).
        :raises IssuerKeyMismatchError: the CV certificate does not verify under that CA.
        :raises CardAuthenticationError: a cloned card (right data, other key), a replayed
            signature, or a card key record not signed by the certified key.
        :raises DataIntegrityError: a damaged EF ``0004``/``0007``.
        :raises TransportError: (or a subclass) the card went away.
        """
        unlock = self._unlock([(TextPin.PIN, pin), (TextPin.MATCH_A, _match_a_value(match_a)),
                               (TextPin.MATCH_B, match_b)])
        policy = checked_policy(policy)
        nonce = host_nonce(rng)
        with self._operation(fresh=unlock is not None):
            if unlock is not None:
                self._verify(*unlock)
            cv_ef = self._read_tlv_ef(TextEf.CV_CERTIFICATE, "CV certificate EF")
            key_ef = self._read_tlv_ef(TextEf.SIGNED_CARD_KEY, "signed card key EF")
            challenge, signature = exchange_challenge_signature(self._send, nonce)
        result = verify_card_authentication(
            application=self.application.name, cv_ef=cv_ef, card_key_ef=key_ef,
            card_challenge=challenge, host_nonce=nonce, signature=signature, policy=policy)
        log.info("text AP card authentication: %s", result.level.value)
        return result

    # ------------------------------------------------------------------ secure messaging
    @contextmanager
    def secure_messaging(
        self, pin: str, *, rng: Callable[[int], bytes] = os.urandom
    ) -> Iterator[TextSecureSession]:
        """Open a secure-messaging session (:mod:`jukicard.card.textsm`) for the ``with``
        block, in one transaction (SM-1)::

            with text.secure_messaging(pin) as sm:
                number = MyNumber.parse(sm.read_ef(TextEf.MY_NUMBER, 0xFF10))

        VERIFY of the 4-digit PIN in plaintext (the card requires it; sent once), EF
        ``0006`` read, a fresh 32-byte seed from ``rng`` delivered with SET SESSION KEY.
        When the block ends — or anything fails — the host half is closed and this session
        forgets its verified PINs, so the next operation selects the AP again (which also
        ends the card's half): no session is left half open.

        :param pin: the 4-digit text-AP PIN the user gave for this call.
        :param rng: the CSPRNG for the seed (tests pass a fixed one).
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises UsageError: ``rng`` gave no 32 bytes (nothing sent).
        :raises SecurityStatusError: the card refused SET SESSION KEY with ``6982``.
        :raises TextSmKeyRejectedError: the card refused the seed (not its key).
        :raises TextSmError: (a subclass) the session broke.
        :raises BadResponse: a malformed EF ``0006``.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = self._pin(TextPin.PIN)
        raw = self._encode_pin(spec, pin)
        seed = rng(SM_SEED_LEN)
        if not isinstance(seed, bytes) or len(seed) != SM_SEED_LEN:
            raise UsageError(f"rng must return {SM_SEED_LEN} bytes")
        with self._operation(fresh=True):
            sm: TextSecureMessaging | None = None
            try:
                self._verify(spec, raw)
                key_ef = self._read_tlv_ef(TextEf.SESSION_KEY_PUBLIC, "session-key key EF")
                public = SessionKeyPublicKey.parse(key_ef).public_key()
                sm = TextSecureMessaging.establish(self._send, public, seed)
                del seed
                yield TextSecureSession(self, sm)
            finally:
                if sm is not None:
                    sm.close()
                self._channel.note_selecting()  # the next operation selects the AP afresh
                self.forget()

    def read_my_number_sm(
        self, pin: str, *, rng: Callable[[int], bytes] = os.urandom
    ) -> MyNumber:
        """Read the My Number over secure messaging (:meth:`secure_messaging`).

        :raises: as :meth:`secure_messaging`; :class:`BadResponse` for a malformed EF.
        """
        with self.secure_messaging(pin, rng=rng) as sm:
            ef = sm.read_ef(TextEf.MY_NUMBER, _MY_NUMBER_TAG, "My Number EF")
        return MyNumber.parse(ef)

    def read_basic_info_sm(
        self, pin: str, *, rng: Callable[[int], bytes] = os.urandom
    ) -> BasicInfo:
        """Read the 基本4情報 over secure messaging (:meth:`secure_messaging`).

        :raises: as :meth:`secure_messaging`; :class:`BadResponse` for a malformed EF.
        """
        with self.secure_messaging(pin, rng=rng) as sm:
            ef = sm.read_tlv_ef(TextEf.BASIC_INFO, _BASIC_INFO_TAG, "basic info EF")
        return BasicInfo.parse(ef)

    def read_verified_sm(
        self,
        pin: str,
        *,
        issuer_key: rsa.RSAPublicKey | CvCertificate | None = None,
        policy: CardAuthPolicy | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> VerifiedTextData:
        """:meth:`read_verified` over secure messaging: the My Number, the 基本4情報 and the
        signature EF (its digests would betray the My Number) are read under SM, the
        public CV certificate too (one session); then the same offline check.

        :raises: as :meth:`read_verified` and :meth:`secure_messaging`.
        """
        trusted_key = issuer_public_key(issuer_key)
        policy = checked_policy(policy)
        if policy is not None and trusted_key is not None:
            raise UsageError("give issuer_key or policy, not both")
        with self.secure_messaging(pin, rng=rng) as sm:
            my_number_ef = sm.read_ef(TextEf.MY_NUMBER, _MY_NUMBER_TAG, "My Number EF")
            basic_ef = sm.read_tlv_ef(TextEf.BASIC_INFO, _BASIC_INFO_TAG, "basic info EF")
            sig_ef = sm.read_tlv_ef(TextEf.SIGNATURE, _SIGNATURE_TAG, "signature EF")
            cv_ef = sm.read_tlv_ef(TextEf.CV_CERTIFICATE, _CV_TAG, "CV certificate EF")
        result = _verified_data(my_number_ef, basic_ef, sig_ef, cv_ef, trusted_key, policy)
        log.info("text AP data read over secure messaging, signature verified (%s)",
                 result.trust_level)
        return result

    def _note_verify(self, pin: PinSpec, resp: ResponseApdu) -> None:
        """Translate the answer to a VERIFY sent under SM (:class:`TextSecureSession`)."""
        self._verified.discard(pin)
        self._translate_pin_sw(pin, resp)
        self._verified.add(pin)
        log.info("%s verified under secure messaging", pin.id)

    def _read_my_number_ef(self) -> bytes:
        self._select_ef(TextEf.MY_NUMBER, "My Number EF")
        return self._read_whole("My Number EF", limit=MY_NUMBER_READ_LIMIT)


def issuer_public_key(issuer_key: object) -> rsa.RSAPublicKey | None:
    """The RSA public key to check a CV certificate with, from what a caller passed as
    ``issuer_key``: an RSA public key, an issuer :class:`CvCertificate` (its key), or ``None``.

    :raises UsageError: anything else (an RSA *private* key, an EC key, bytes...), or an
        issuer CV certificate whose numbers form no RSA key.  The message names only the
        type.
    """
    if issuer_key is None or isinstance(issuer_key, rsa.RSAPublicKey):
        return issuer_key
    if isinstance(issuer_key, CvCertificate):
        try:
            return issuer_key.public_key()
        except BadResponse as exc:
            raise UsageError("issuer_key: the CV certificate holds no usable RSA key") from exc
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        raise UsageError("issuer_key is an RSA private key: pass the issuer's public key "
                         "(or its CV certificate)")
    raise UsageError("issuer_key must be an RSA public key or the issuer's CvCertificate, "
                     f"got a {type(issuer_key).__name__}")


def _verified_data(
    my_number_ef: bytes,
    basic_ef: bytes,
    sig_ef: bytes,
    cv_ef: bytes,
    trusted_key: rsa.RSAPublicKey | None,
    policy: CardAuthPolicy | None,
) -> VerifiedTextData:
    """Check the signed data (CA first) and label it (CARDAUTH-6, CARDAUTH-7).

    :raises DataIntegrityError: a damaged CV certificate EF; :func:`_check_signature`'s.
    :raises UntrustedIssuerError: / :raises CvCaApplicationError: /
        :raises CvCaSignatureError: as :meth:`CardAuthPolicy.check_cv_certificate`.
    """
    try:
        cv = CvCertificate.parse(cv_ef)
    except BadResponse as exc:
        raise DataIntegrityError("CV certificate EF is damaged") from exc
    anchor: CvCaKey | None = None
    if policy is not None:
        anchor = policy.check_cv_certificate(cv, TEXT.name)
        trusted_key = anchor.public_key
    elif trusted_key is not None:  # a bare key: J-LIS's only if it is a bundled one
        anchor = cvca.key_matching(trusted_key)
        if anchor is not None:
            check_ca_application(anchor, TEXT.name, cv.car, cvca.bundled_keys())
    check = _check_signature(my_number_ef, basic_ef, sig_ef, cv_ef, trusted_key)
    level = (TrustLevel.SELF_CONSISTENT_ONLY if trusted_key is None
             else TrustLevel.VERIFIED_TO_CALLER_KEY)
    records = (int(TextEf.MY_NUMBER), int(TextEf.BASIC_INFO))  # what EF 0003 signs
    authenticity = DataAuthenticity.checked(cv, anchor, level=level, records=records)
    return VerifiedTextData(MyNumber.parse(my_number_ef), BasicInfo.parse(basic_ef), check,
                            authenticity)


def _check_signature(
    my_number_ef: bytes,
    basic_ef: bytes,
    sig_ef: bytes,
    cv_ef: bytes,
    issuer_key: rsa.RSAPublicKey | None,
) -> SignatureCheck:
    """Check the text AP's signed data over the raw EF bytes.

    :raises IssuerKeyMismatchError: the CV certificate does not verify under ``issuer_key``.
    :raises DataIntegrityError: anything else that does not match, or a damaged signature /
        CV certificate EF.
    """
    try:
        cv_cert = CvCertificate.parse(cv_ef)
    except BadResponse as exc:
        raise DataIntegrityError("CV certificate EF is damaged") from exc
    try:
        signature = TextApSignature.parse(sig_ef)
    except BadResponse as exc:
        raise DataIntegrityError("signature EF is damaged") from exc
    if issuer_key is not None:
        cv_cert.verify_issuer(issuer_key)  # IssuerKeyMismatchError if it does not verify
    signature.verify(my_number_ef, basic_ef, cv_cert)
    return SignatureCheck.CARD_KEY_ONLY if issuer_key is None else SignatureCheck.TRUSTED_ISSUER
