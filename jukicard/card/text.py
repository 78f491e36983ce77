"""券面事項入力補助AP (text AP): My Number, 基本4情報 and the AP's signature over them.

Access (card-interface.md §3.2): the 4-digit PIN ``0011`` unlocks everything; 照合番号A
(``0014``, the 12-digit My Number) unlocks the My Number EF only; 照合番号B (``0015``, birth
YYMMDD + expiry year + security code) unlocks the 基本4情報 only.

NOTE: everything read here is personal data: nothing is logged, and the returned objects
mask themselves in ``repr()``.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.card.dataobjects import (
    ApBasicInfo,
    BasicInfo,
    CvCertificate,
    DataIntegrityError,
    MyNumber,
    TextApSignature,
)
from jukicard.card.layout import App, PinSpec, TextEf, TextPin
from jukicard.card.session import ApplicationSession, PinStatus
from jukicard.errors import UsageError

__all__ = ["TextSession", "DataIntegrityError"]

log = logging.getLogger(__name__)

#: Largest My Number EF read (17 bytes on the cards; read to EOF so the signed digest,
#: which covers the padding too, can be checked).
MY_NUMBER_READ_LIMIT = 256


def _match_a_value(value: MyNumber | str) -> str:
    if isinstance(value, MyNumber):
        return value.digits
    return value


class TextSession(ApplicationSession):
    """The 券面事項入力補助AP of a My Number card.

    :param transport: the connection to the card.
    :param extended: see :class:`~jukicard.card.session.ApplicationSession`.
    :param select: select the AP at construction.
    :raises ApplicationNotFound: no text AP on this card (e.g. a 住基カード).
    """

    APPLICATION: ClassVar[App] = App.TEXT

    PINS: ClassVar[tuple[TextPin, ...]] = tuple(TextPin)

    # ------------------------------------------------------------------ PINs
    def pin_status(self, pin: TextPin) -> PinStatus:
        """Tries left for ``pin`` (data-less VERIFY, never decrements).

        :raises UsageError: not a text-AP PIN.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = self._pin(pin)
        with self._operation():
            return self._pin_status(spec)

    def verify(self, pin: TextPin, value: str) -> None:
        """VERIFY ``value`` once (see :meth:`JpkiSession.verify
        <jukicard.card.jpki.JpkiSession.verify>` for the errors).

        :raises PinFormatError: wrong format — nothing was sent.
        :raises PinError: wrong value, ``retries_left`` set.
        :raises PinBlockedError: blocked.
        """
        spec = self._pin(pin)
        raw = self._encode_pin(spec, value)
        with self._operation():
            self._verify(spec, raw)

    def _unlock(self, choices: list[tuple[TextPin, str | None]]) -> tuple[PinSpec, bytes] | None:
        given = [(p, v) for p, v in choices if v is not None]
        if len(given) > 1:
            raise UsageError("give only one of the PIN arguments")
        if not given:
            return None
        pin, value = given[0]
        spec = pin.value
        return spec, self._encode_pin(spec, value)

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
        unlock = self._unlock([
            (TextPin.PIN, pin),
            (TextPin.MATCH_A, None if match_a is None else _match_a_value(match_a)),
        ])
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
        :param match_b: 照合番号B (14 digits, see :func:`~jukicard.card.layout.make_match_b`).
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
        self, pin: str, *, issuer_key: rsa.RSAPublicKey | None = None
    ) -> tuple[MyNumber, BasicInfo]:
        """Read the My Number and the 基本4情報 and check them against the AP's signature EF
        (``0003``) with the key of its CV certificate (``0004``), all in one transaction.

        :param pin: the 4-digit text-AP PIN (the signature EF needs it).
        :param issuer_key: the trusted CV-certificate issuer key (J-LIS, or the test
            issuer); if given, the CV certificate itself is verified with it too.  Without
            it the check proves the data is consistent with the card's signature, not that
            the card is genuine.
        :returns: ``(MyNumber, BasicInfo)``.
        :raises DataIntegrityError: the data does not match the signature (tampered), or
            the signature/CV certificate does not verify.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises BadResponse: a malformed EF.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = TextPin.PIN.value
        raw = self._encode_pin(spec, pin)
        with self._operation(fresh=True):
            self._verify(spec, raw)
            my_number_ef = self._read_my_number_ef()
            basic_ef = self._read_tlv_ef(TextEf.BASIC_INFO, "basic info EF")
            sig_ef = self._read_tlv_ef(TextEf.SIGNATURE, "signature EF")
            cv_ef = self._read_tlv_ef(TextEf.CV_CERTIFICATE, "CV certificate EF")
        cv_cert = CvCertificate.parse(cv_ef)
        if issuer_key is not None:
            cv_cert.verify_issuer(issuer_key)  # DataIntegrityError if it does not verify
        TextApSignature.parse(sig_ef).verify(my_number_ef, basic_ef, cv_cert)
        my_number = MyNumber.parse(my_number_ef)
        basic = BasicInfo.parse(basic_ef)
        log.info("text AP data read and its signature verified")
        return my_number, basic

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

    def _read_my_number_ef(self) -> bytes:
        self._select_ef(TextEf.MY_NUMBER, "My Number EF")
        return self._read_whole("My Number EF", limit=MY_NUMBER_READ_LIMIT)
