"""券面事項確認AP (visual AP, "券面AP"): the card-face items.

Access (card-interface.md §3.3, §9): 照合番号A (``0013``) — the 12-digit My Number — or
照合番号B (``0012``) — birth date YYMMDD + expiry year YYYY + 4-digit security code, built
with :func:`~jukicard.apdu.apps.make_match_b` — unlocks the entries EF ``0002``: name and
address images (PNG), the face photo (JPEG 2000), birth date, sex, expiry, and the signature
items, returned as :class:`~jukicard.card.visual_data.VisualEntries`.

The entries EF is large (tens of KB with the photo): it is read with one extended READ
BINARY where the card supports it, otherwise in 256-byte chunks.  The facts are in
:mod:`jukicard.apdu.apps.visual`.

NOTE: personal data; nothing read here is logged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from typing import ClassVar, TypeVar

from jukicard.apdu.apps import Application
from jukicard.apdu.apps.spec import PinSpec
from jukicard.apdu.apps.visual import VISUAL, VisualEf, VisualPin
from jukicard.card.cardauth import (
    CardAuthPolicy,
    CardAuthResult,
    checked_policy,
    exchange_challenge_signature,
    host_nonce,
)
from jukicard.card.cvc import CvCertificate
from jukicard.card.session import ApplicationSession
from jukicard.card.text_data import MyNumber
from jukicard.card.visual_data import VisualBirth, VisualEntries
from jukicard.card.visualauth import verify_visual_authentication, visual_data_authenticity
from jukicard.errors import UsageError

__all__ = ["VisualSession"]

log = logging.getLogger(__name__)

_Record = TypeVar("_Record", VisualEntries, VisualBirth)


class VisualSession(ApplicationSession[VisualPin]):
    """The 券面事項確認AP.

    :param channel: the card's channel, or a bare transport (see
        :class:`~jukicard.card.session.ApplicationSession`).
    :param extended: / :param select: see :class:`~jukicard.card.session.ApplicationSession`.
    :raises ApplicationNotFound: no visual AP on this card.
    """

    APPLICATION: ClassVar[Application] = VISUAL
    PINS: ClassVar[tuple[VisualPin, ...]] = tuple(VisualPin)

    def read_entries(
        self,
        *,
        match_a: MyNumber | str | None = None,
        match_b: str | None = None,
        verify: bool = False,
        policy: CardAuthPolicy | None = None,
    ) -> VisualEntries:
        """Read the card-face items, and with ``verify`` or ``policy`` check the record's
        signature (VIS-5; card authentication is :meth:`authenticate_card`).

        :param match_a: 照合番号A: the My Number (a :class:`MyNumber` or its 12 digits), or
        :param match_b: 照合番号B (14 digits).  With neither, an earlier :meth:`verify` in the
            current selection is relied on (the card decides).
        :param verify: check the record's signature under the card's CV certificate (EF
            ``0004``) even without a policy (``self-consistent-only``).
        :param policy: the trusted J-LIS CV CA keys (:func:`jukicard.card.cvca.policy`): the
            CV certificate is checked up to one of them (``verified-to-jlis-ca``).
        :returns: the items as bytes with their types; :attr:`VisualEntries.authenticity`
            says what was checked (``not-checked`` by default, as before).
        :raises UsageError: both given; ``policy`` is no :class:`CardAuthPolicy`.
        :raises UntrustedIssuerError: / :raises CvCaApplicationError: /
            :raises CvCaSignatureError: the CV certificate is not trusted (``policy``).
        :raises DataIntegrityError: the record does not verify (tampered) or the CV
            certificate is damaged (never a lower label, VIS-5).
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises SecurityStatusError: nothing verified.
        :raises BadResponse: malformed EF.
        :raises TransportError: (or a subclass) the card went away.
        """
        value_a = match_a.digits if isinstance(match_a, MyNumber) else match_a
        unlock = self._unlock([(VisualPin.MATCH_A, value_a), (VisualPin.MATCH_B, match_b)])
        return self._read_record(unlock, VisualEf.ENTRIES, VisualEntries, verify, policy)

    def read_birth(
        self,
        birth_pin: str | None = None,
        *,
        verify: bool = False,
        policy: CardAuthPolicy | None = None,
    ) -> VisualBirth:
        """Read the birth-date EF (``0001``: birth date, public key, signature), unlocked by
        the 6-digit 生年月日読出用暗証番号 (used for PIN-less age checks).

        NOTE: layout from one public source; the signature rule is VIS-1's.

        :param birth_pin: the birth-date PIN; ``None`` relies on an earlier :meth:`verify`.
        :param verify: / :param policy: as :meth:`read_entries`.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises SecurityStatusError: nothing verified.
        :raises BadResponse: malformed EF.
        :raises UntrustedIssuerError: / :raises DataIntegrityError: as :meth:`read_entries`.
        :raises TransportError: (or a subclass) the card went away.
        """
        unlock = self._unlock([(VisualPin.BIRTH, birth_pin)])
        return self._read_record(unlock, VisualEf.BIRTH, VisualBirth, verify, policy)

    def _read_record(
        self,
        unlock: tuple[PinSpec, bytes] | None,
        fid: VisualEf,
        kind: type[_Record],
        verify: bool,
        policy: object,
    ) -> _Record:
        """Read one signed record (VERIFY first if ``unlock``), the CV certificate too when
        it is checked, in one transaction; the signature is checked before parsing."""
        checked = checked_policy(policy)  # before anything is sent: no VERIFY wasted
        check = bool(verify) or checked is not None
        what = "visual entries EF" if fid == VisualEf.ENTRIES else "visual birth EF"
        with self._operation(fresh=unlock is not None):
            if unlock is not None:
                self._verify(*unlock)
            ef = self._read_tlv_ef(fid, what)
            cv_ef = self._read_tlv_ef(VisualEf.CV_CERTIFICATE, "CV certificate EF") \
                if check else b""
        if not check:
            return kind.parse(ef)
        authenticity = visual_data_authenticity(cv_ef, {int(fid): ef}, checked)
        log.info("visual EF %04X read, signature checked (%s)", fid, authenticity.trust_level)
        return dataclasses.replace(kind.parse(ef), authenticity=authenticity)

    def read_cv_certificate(self) -> CvCertificate:
        """Read the CV certificate (EF ``0004``) of the AP's issuer key (no credential,
        ``card-security.md`` §2): a caller can check it against a policy before asking
        anyone for a credential.

        :raises BadResponse: malformed EF.
        :raises SecurityStatusError: the card wants a credential for it.
        :raises TransportError: (or a subclass) the card went away.
        """
        with self._operation():
            ef = self._read_tlv_ef(VisualEf.CV_CERTIFICATE, "CV certificate EF")
        return CvCertificate.parse(ef)

    def authenticate_card(
        self,
        *,
        match_a: MyNumber | str | None = None,
        match_b: str | None = None,
        birth_pin: str | None = None,
        policy: CardAuthPolicy | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> CardAuthResult:
        """Have the card prove it holds the key its signed records carry (券面AP card
        authentication, :mod:`jukicard.card.visualauth`), all in one transaction.

        Reads the CV certificate (EF ``0004``) and the signed records the credential opens
        (VIS-3: 照合番号A ``0002`` + ``0005``, 照合番号B ``0002``, the birth-date PIN
        ``0001``), asks for a 16-byte GET CHALLENGE and has key ``001A`` sign
        ``DigestInfo(SHA-256(challenge ‖ host nonce))`` with ``80 2A 00 00``; then checks
        CA → CV certificate → records → card key → signature offline.

        :param match_a: / :param match_b: / :param birth_pin: exactly one credential (the
            records need one); VERIFY is sent once, only with the value given here.
        :param policy: the trusted J-LIS CV CA keys (e.g. :func:`jukicard.card.cvca.policy`);
            ``None`` gives ``self-consistent-only`` at best.
        :param rng: the host's CSPRNG for the nonce.
        :raises UsageError: no credential or more than one; ``rng`` gave no 16 bytes.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises UntrustedIssuerError: the card's CV CA is not in ``policy``.
        :raises IssuerKeyMismatchError: the CV certificate does not verify under that CA.
        :raises DataIntegrityError: a damaged or tampered record or CV certificate.
        :raises CardAuthenticationError: a cloned card or a replayed signature.
        :raises TransportError: (or a subclass) the card went away.
        """
        value_a = match_a.digits if isinstance(match_a, MyNumber) else match_a
        unlock = self._unlock([(VisualPin.MATCH_A, value_a), (VisualPin.MATCH_B, match_b),
                               (VisualPin.BIRTH, birth_pin)])
        if unlock is None:
            raise UsageError("visual-AP card authentication needs 照合番号A, 照合番号B or the "
                             "birth-date PIN (the signed records are behind one)")
        fids = _RECORDS_OPENED_BY[unlock[0].ef]
        policy = checked_policy(policy)
        nonce = host_nonce(rng)
        with self._operation(fresh=True):
            self._verify(*unlock)
            cv_ef = self._read_tlv_ef(VisualEf.CV_CERTIFICATE, "CV certificate EF")
            records = {fid: self._read_tlv_ef(fid, f"visual EF {fid:04X}") for fid in fids}
            challenge, signature = exchange_challenge_signature(self._send, nonce)
        result = verify_visual_authentication(
            cv_ef=cv_ef, records=records, card_challenge=challenge, host_nonce=nonce,
            signature=signature, policy=policy)
        log.info("visual AP card authentication: %s", result.level.value)
        return result


#: PIN IEF → the signed records it opens (VIS-3).
_RECORDS_OPENED_BY: dict[int, tuple[int, ...]] = {
    VisualPin.MATCH_A.spec.ef: (VisualEf.ENTRIES, VisualEf.MY_NUMBER_IMAGE),
    VisualPin.MATCH_B.spec.ef: (VisualEf.ENTRIES,),
    VisualPin.BIRTH.spec.ef: (VisualEf.BIRTH,),
}

