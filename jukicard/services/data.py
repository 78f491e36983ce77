"""Reading data off the card: certificates (``cert export``), the My Number, the 基本4情報.

Everything returned by :func:`read_my_number` and :func:`read_basic_info` is personal data:
it is returned to the caller only, never logged (the objects mask themselves in ``repr``).
The JPKI sign certificate also names the holder and their address.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from jukicard.apdu.apps import JpkiCert, TextPin
from jukicard.card.cardauth import NOT_CHECKED, CardAuthPolicy, checked_policy
from jukicard.card.crypto import CERTIFICATE_ERRORS, load_der_certificate
from jukicard.card.cvc import CvCertificate
from jukicard.card.detect import open_card
from jukicard.card.jpki import JpkiSession
from jukicard.card.text import TextSession, issuer_public_key
from jukicard.card.text_data import BasicInfo, MyNumber, SignatureCheck, VerifiedTextData
from jukicard.errors import BadResponse, DataIntegrityError, UsageError
from jukicard.services.genuineness import check_ca_first
from jukicard.services.info import cert_id
from jukicard.services.interaction import UserInteraction
from jukicard.services.pins import ask_pin
from jukicard.transport.base import Transport

__all__ = [
    "CERT_IDS",
    "export_certificate",
    "to_pem",
    "read_my_number",
    "read_basic_info",
    "read_verified",
    "trust_fields",
    "TRUST_FIELDS",
    "SignatureCheck",
    "VerifiedTextData",
]

log = logging.getLogger(__name__)

#: Certificate ids ``cert export`` accepts.
CERT_IDS: tuple[str, ...] = tuple(cert_id(c) for c in JpkiCert)


def _unknown_certificate() -> UsageError:
    # the id given is not repeated: a PIN may have been passed in its place
    return UsageError(f"unknown certificate id (not repeated); use one of {', '.join(CERT_IDS)}")


def _cert_ref(jpki: JpkiSession, which: str) -> Any:
    for ref in jpki.CERTS:
        if cert_id(ref) == which:
            return ref
    if which not in CERT_IDS:
        raise _unknown_certificate()
    raise UsageError(f"this card has no {which!r} certificate")


def export_certificate(transport: Transport, which: str, interaction: UserInteraction) -> bytes:
    """Read a JPKI certificate (DER).

    ``sign`` needs the sign password: it is asked through ``interaction`` (after checking,
    without touching the counter, that it is not blocked) and verified once.

    :param which: ``"auth"``, ``"auth-ca"``, ``"sign"`` or ``"sign-ca"``.
    :raises UsageError: unknown id (the message does not repeat it: it may be a PIN passed
        in the wrong place) / not on this card.
    :raises PinError: / :raises PinBlockedError: wrong or blocked password.
    :raises TransportError: (or a subclass) the card went away.
    """
    if which not in CERT_IDS:
        raise _unknown_certificate()
    jpki = open_card(transport).jpki()
    ref = _cert_ref(jpki, which)
    pin_spec = ref.value.pin
    if pin_spec is None:
        return jpki.read_certificate(ref)
    pin_ref = next(p for p in jpki.PINS if p.value == pin_spec)
    pin = ask_pin(jpki, pin_ref, interaction)
    return jpki.read_certificate(ref, pin=pin)


def to_pem(der: bytes) -> bytes:
    """PEM encoding of a DER certificate.

    :raises BadResponse: not a usable DER certificate.
    """
    cert = load_der_certificate(der)
    try:
        pem: bytes = cert.public_bytes(Encoding.PEM)
    except CERTIFICATE_ERRORS as exc:
        raise BadResponse("not a usable X.509 certificate") from exc
    return pem


def read_my_number(
    transport: Transport, interaction: UserInteraction, *, secure: bool = False
) -> MyNumber:
    """Read the My Number (asks the 4-digit text-AP PIN).

    :param secure: read it over secure messaging (:meth:`TextSession.read_my_number_sm`).

    :raises ApplicationNotFound: no text AP (e.g. a 住基カード).
    :raises PinError: / :raises PinBlockedError: wrong or blocked PIN.
    :raises TransportError: (or a subclass) the card went away.
    """
    text = open_card(transport).text()
    pin = ask_pin(text, TextPin.PIN, interaction)
    if secure:
        return text.read_my_number_sm(pin)
    return text.read_my_number(pin=pin)


def read_basic_info(
    transport: Transport, interaction: UserInteraction, *, match_b: bool = False,
    secure: bool = False,
) -> BasicInfo:
    """Read the 基本4情報 (asks the text-AP PIN, or 照合番号B with ``match_b=True``).

    :param secure: read it over secure messaging (the 4-digit PIN only:
        :meth:`TextSession.read_basic_info_sm`).
    :raises UsageError: ``secure`` with ``match_b`` (nothing asked, nothing sent).

    :raises ApplicationNotFound: no text AP.
    :raises PinError: / :raises PinBlockedError: wrong or blocked PIN.
    :raises TransportError: (or a subclass) the card went away.
    """
    if secure and match_b:
        raise UsageError("secure messaging needs the 4-digit PIN, not 照合番号B")
    text = open_card(transport).text()
    ref = TextPin.MATCH_B if match_b else TextPin.PIN
    value = ask_pin(text, ref, interaction)
    if secure:
        return text.read_basic_info_sm(value)
    if match_b:
        return text.read_basic_info(match_b=value)
    return text.read_basic_info(pin=value)


def read_verified(
    transport: Transport,
    interaction: UserInteraction,
    *,
    issuer_key: rsa.RSAPublicKey | CvCertificate | None = None,
    policy: CardAuthPolicy | None = None,
    secure: bool = False,
) -> VerifiedTextData:
    """Read the My Number and the 基本4情報 and check them against the text AP's signature
    (asks the text-AP PIN once).

    Where the trust came from is :attr:`VerifiedTextData.trust_level` (with ``ca_key_id``,
    ``ca_kind``, ``ca_source`` in :attr:`VerifiedTextData.authenticity`, CARDAUTH-7):

    * neither ``issuer_key`` nor ``policy`` — ``"self-consistent-only"``: the data matches
      the signature under the key in the card's own CV certificate (not damaged or altered
      since signing, but a forged card supplying its own key would pass);
    * ``policy`` (e.g. :func:`jukicard.services.genuineness.trust_policy`) —
      ``"verified-to-jlis-ca"``: the CV certificate verified under the policy's CV CA key
      it names, a CA of the text AP (CARDAUTH-6); ``ca_source`` says ``bundled`` (a J-LIS
      key jukicard ships) or ``caller``;
    * ``issuer_key`` (a bare key) — ``"verified-to-jlis-ca"`` when it is a bundled J-LIS
      key, else ``"verified-to-caller-key"``.

    :attr:`VerifiedTextData.signature_check` keeps the older wording (``"card-key-only"`` /
    ``"trusted-issuer"``).  No label proves that this physical card is the card the data
    was written to: a copy of a genuine card's data passes too (card authentication,
    :func:`jukicard.services.genuineness.authenticate_card`, proves that).  The result
    still unpacks as ``(my_number, basic_info)``.

    With ``issuer_key`` or ``policy`` the card's CV certificate (readable without a PIN) is
    checked before anyone is asked for the PIN, so a card that fails costs no try.

    :param issuer_key: a trusted CV-certificate issuer key (J-LIS, or the test issuer).
    :param policy: the trusted CV CA keys, instead of ``issuer_key``.
    :param secure: read over secure messaging (:meth:`TextSession.read_verified_sm`).
    :raises UsageError: both ``issuer_key`` and ``policy`` (nothing asked, nothing sent).
    :raises UntrustedIssuerError: the CV certificate names a CA ``policy`` does not trust
        (e.g. a test CA under the production policy); :raises CvCaApplicationError: the CA
        of another application.
    :raises IssuerKeyMismatchError: the card's CV certificate does not verify under
        ``issuer_key`` (a wrong key, or a card that issuer did not certify) or under the
        policy's key (:class:`~jukicard.errors.CvCaSignatureError`).
    :raises DataIntegrityError: the data does not match the signature, or a signed EF is
        damaged (tampered card data).
    :raises PinError: / :raises PinBlockedError: wrong or blocked PIN.
    """
    policy = checked_policy(policy)
    key = issuer_public_key(issuer_key)  # a wrong key type fails before anyone is asked
    if key is not None and policy is not None:
        raise UsageError("give issuer_key or policy, not both")
    text = open_card(transport).text()
    if key is not None or policy is not None:
        _check_issuer_first(text, key, policy)  # a card that fails costs no PIN try
    pin = ask_pin(text, TextPin.PIN, interaction)
    if secure:
        return text.read_verified_sm(pin, issuer_key=key, policy=policy)
    return text.read_verified(pin, issuer_key=key, policy=policy)


#: The JSON fields that say where the trust in checked data came from (CARDAUTH-7), as
#: ``card-face`` gives them.
TRUST_FIELDS = ("trust_level", "ca_key_id", "ca_kind", "ca_source")


def trust_fields(verified: VerifiedTextData | None) -> dict[str, Any]:
    """:data:`TRUST_FIELDS` of a checked read (ids as hex), or of no check at all (``None``:
    ``trust_level`` ``"not-checked"``, the rest ``None``)."""
    auth = NOT_CHECKED if verified is None or verified.authenticity is None \
        else verified.authenticity
    data = auth.to_dict()
    return {k: data[k] for k in TRUST_FIELDS}


def _check_issuer_first(
    text: TextSession, key: rsa.RSAPublicKey | None, policy: CardAuthPolicy | None
) -> None:
    """Check the card's CV certificate (readable without a PIN) under the trusted issuer
    key or up to the policy's CV CA before anyone is asked for the PIN
    (:meth:`TextSession.read_verified` checks it again, with the data).

    :raises IssuerKeyMismatchError: it does not verify under ``key`` / the CA's key.
    :raises UntrustedIssuerError: ``policy`` does not trust the CA it names for the text AP.
    :raises DataIntegrityError: the CV certificate EF is damaged.
    """
    if policy is not None:
        check_ca_first(text, policy)
        return
    try:
        cv_cert = text.read_cv_certificate()
    except BadResponse as exc:
        raise DataIntegrityError("CV certificate EF is damaged") from exc
    if key is not None:
        cv_cert.verify_issuer(key)
