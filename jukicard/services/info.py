"""``card info``: what card this is, which applications it has, its public certificates.

No PIN is asked and no personal data is read: the JPKI sign certificate (which names the
holder and their address) is PIN-protected and is listed as such, never read here.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jukicard.apdu.apps.jpki import JPKI
from jukicard.card.channel import CardChannel
from jukicard.card.crypto import CERTIFICATE_ERRORS, load_der_certificate
from jukicard.card.detect import Card, applications, open_card
from jukicard.card.identity import read_card_identity
from jukicard.card.identity_data import CardIdentity
from jukicard.deprecations import contained_deprecations
from jukicard.errors import (
    BadResponse,
    CardError,
    FileNotFoundOnCard,
    SecurityStatusError,
    UsageError,
)
from jukicard.services.connect import describe_transport
from jukicard.transport.base import Transport

__all__ = [
    "ApplicationSummary",
    "CertificateSummary",
    "CardInfo",
    "card_info",
    "summarize_certificate",
    "cert_id",
]

log = logging.getLogger(__name__)

_CARD_LABELS = {
    "mynumber": "My Number card (マイナンバーカード)",
    "juki": "住基カード",
    "smartphone": "smartphone JPKI (スマホ用電子証明書)",
    "unknown": "unknown card",
}


def _iso(value: _dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def cert_id(ref: Any) -> str:
    """The CLI id of a certificate layout member: ``JpkiCert.AUTH_CA`` → ``"auth-ca"``."""
    return str(ref.name).lower().replace("_", "-")


@dataclass(frozen=True)
class ApplicationSummary:
    """One application found on the card."""

    name: str
    label: str
    aid: bytes
    verified_layout: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "aid": self.aid.hex().upper(),
                "verified_layout": self.verified_layout}


@dataclass(frozen=True)
class CertificateSummary:
    """A certificate EF of the JPKI AP and, if it was read, what it says.

    :ivar id: ``"auth"``, ``"auth-ca"``, ``"sign"`` or ``"sign-ca"``.
    :ivar ef: the EF it lives in.
    :ivar read: False if it was not (or could not be) read; :attr:`note` says why.
    :ivar subject: / :ivar issuer: RFC 4514 strings.
    :ivar serial: serial number in hex.
    """

    id: str
    ef: int
    read: bool
    subject: str | None = None
    issuer: str | None = None
    serial: str | None = None
    not_before: _dt.datetime | None = None
    not_after: _dt.datetime | None = None
    key: str | None = None
    sha256: str | None = None
    note: str = ""

    def valid_at(self, at: _dt.datetime) -> bool | None:
        """True if ``at`` is inside the validity period (``None`` if not read)."""
        if self.not_before is None or self.not_after is None:
            return None
        return self.not_before <= at <= self.not_after

    def to_json(self, at: _dt.datetime | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "ef": f"{self.ef:04X}", "read": self.read}
        if self.read:
            out.update(
                subject=self.subject, issuer=self.issuer, serial=self.serial,
                not_before=_iso(self.not_before), not_after=_iso(self.not_after),
                key=self.key, sha256=self.sha256,
            )
            if at is not None:
                out["valid_now"] = self.valid_at(at)
        if self.note:
            out["note"] = self.note
        return out


def summarize_certificate(cert_id_: str, ef: int, der: bytes) -> CertificateSummary:
    """Summarize a DER certificate read from EF ``ef``.

    :raises BadResponse: not a DER X.509 certificate.
    """
    try:
        with contained_deprecations():  # e.g. a serial number that is not positive
            cert = load_der_certificate(der, f"{cert_id_} certificate")
            subject = cert.subject.rfc4514_string()
            issuer = cert.issuer.rfc4514_string()
            key = cert.public_key()
            serial = format(cert.serial_number, "X")
            not_before = cert.not_valid_before_utc
            not_after = cert.not_valid_after_utc
            fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    except CERTIFICATE_ERRORS as exc:
        # InvalidVersion, UnsupportedAlgorithm (an unknown key algorithm)...: typed, always
        raise BadResponse(f"{cert_id_} certificate: not a usable X.509 certificate") from exc
    bits = getattr(key, "key_size", None)
    if isinstance(key, rsa.RSAPublicKey):
        kind = "RSA"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        kind = "EC"
    else:
        kind = "other"
    return CertificateSummary(
        id=cert_id_,
        ef=ef,
        read=True,
        subject=subject,
        issuer=issuer,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        key=f"{kind}-{bits}" if bits else kind,
        sha256=fingerprint,
    )


@dataclass(frozen=True)
class CardInfo:
    """What ``card info`` reports.  Contains no personal data.

    :ivar source: where the card is (``"reader 'NAME'"``, ``"emulated card 'mynumber-01'"``).
    :ivar card_type: ``"mynumber"``, ``"juki"``, ``"smartphone"`` or ``"unknown"``.
    :ivar token: the JPKI token string, if read.
    :ivar at: the time certificate validity was judged at.
    :ivar identity: the card identification number, municipality code and expiry (MF GET
        DATA, a My Number card only; not secrets, ID-5), or ``None`` when not read.
    """

    source: str
    atr: bytes
    card_type: str
    applications: tuple[ApplicationSummary, ...]
    token: str | None
    certificates: tuple[CertificateSummary, ...]
    at: _dt.datetime
    identity: CardIdentity | None = None

    @property
    def card_label(self) -> str:
        return _CARD_LABELS.get(self.card_type, self.card_type)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stable keys, for scripts)."""
        return {
            "source": self.source,
            "atr": self.atr.hex().upper(),
            "card_type": self.card_type,
            "card_label": self.card_label,
            "token": self.token,
            "applications": [a.to_json() for a in self.applications],
            "certificates": [c.to_json(self.at) for c in self.certificates],
            "checked_at": self.at.isoformat(),
            "identity": None if self.identity is None else self.identity.to_dict(),
        }


def _certificates(card: Card) -> list[CertificateSummary]:
    jpki = card.jpki()
    out: list[CertificateSummary] = []
    for ref in jpki.CERTS:
        spec = ref.value
        cid = cert_id(ref)
        if spec.pin is not None:
            out.append(CertificateSummary(
                cid, spec.ef, False,
                note=f"protected by the {spec.pin.label} and holds personal data: not read",
            ))
            continue
        try:
            der = jpki.read_certificate(ref)
        except SecurityStatusError:
            note = "needs a PIN on this token: not read"
        except FileNotFoundOnCard:
            note = "not on this card"
        except BadResponse as exc:
            note = f"unreadable: {exc}"
        else:
            try:
                out.append(summarize_certificate(cid, spec.ef, der))
                continue
            except BadResponse as exc:
                note = f"unreadable: {exc}"
        out.append(CertificateSummary(cid, spec.ef, False, note=note))
    return out


#: The MF GET DATA objects ``card info`` shows (card number, municipality, expiry).
_IDENTITY_TAGS = (0x0045, 0x00F0, 0x00F2)


def _identity(channel: CardChannel) -> CardIdentity | None:
    """The card's MF identity objects, or ``None`` when the card has none of them, refuses
    GET DATA or answers something that is not text (``card info`` shows what it can)."""
    try:
        identity = read_card_identity(channel, _IDENTITY_TAGS)
    except CardError as exc:
        log.debug("card identity not read: %s", type(exc).__name__)
        return None
    return identity if identity.objects else None


def _validity_time(at: object) -> _dt.datetime:
    """``at`` checked (now, UTC, for ``None``).

    :raises UsageError: not a timezone-aware :class:`datetime.datetime` (a string, a date,
        a naive datetime — as the validator requires).
    """
    if at is None:
        return _dt.datetime.now(_dt.UTC)
    if not isinstance(at, _dt.datetime):
        raise UsageError(f"at must be a timezone-aware datetime, got a {type(at).__name__}")
    if at.utcoffset() is None:
        raise UsageError("at must be a timezone-aware datetime, got a naive one")
    return at


def card_info(transport: Transport, *, at: _dt.datetime | None = None) -> CardInfo:
    """Identify the card and read its public JPKI certificates (no PIN, no personal data).

    :param transport: the connection to the card.
    :param at: the time to judge certificate validity at, timezone-aware (default: now,
        UTC).
    :raises UsageError: ``transport`` is not a transport, or ``at`` is not a
        timezone-aware datetime.
    :raises ApplicationNotFound: not a card we know.
    :raises TransportError: (or a subclass) the card went away.
    """
    when = _validity_time(at)
    channel = CardChannel.of(transport)  # UsageError for what is not a transport
    with channel.operation():
        card = open_card(channel)
        certs = _certificates(card) if card.has(JPKI) else []
        identity = _identity(channel) if card.card_type.value == "mynumber" else None
    apps = tuple(
        ApplicationSummary(a.name, a.label, a.aid, a.verified_layout)
        for a in applications()  # the detection table, in probing order
        if card.has(a)
    )
    info = CardInfo(
        source=describe_transport(transport),
        atr=bytes(card.atr),
        card_type=card.card_type.value,
        applications=apps,
        token=card.token.token if card.token is not None else None,
        certificates=tuple(certs),
        at=when,
        identity=identity,
    )
    log.info("card info: %s with %d application(s)", info.card_type, len(apps))
    return info
