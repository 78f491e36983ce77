"""Card genuineness (issue 11, part C): have the card prove itself on the 券面事項確認AP (or
the 券面事項入力補助AP) under a J-LIS CV CA policy, and read its identity.

The credential comes from the user through :class:`~jukicard.services.interaction.
UserInteraction` (one request, one VERIFY).  The trust set is the bundled J-LIS CV CA keys
(:mod:`jukicard.card.cvca`), production only unless ``allow_test_keys``; extra keys (e.g.
pkigen's test root for the emulated card) join the set and must be test keys then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from jukicard.apdu.apps.text import TextPin
from jukicard.apdu.apps.visual import VisualPin
from jukicard.card import cvca
from jukicard.card.cardauth import CardAuthPolicy, CardAuthResult, CvCaKey
from jukicard.card.cvc import CvCertificate
from jukicard.card.identity import read_card_identity
from jukicard.card.identity_data import CardIdentity
from jukicard.card.text import TextSession
from jukicard.card.visual import VisualSession
from jukicard.errors import BadResponse, CardError, DataIntegrityError, UsageError
from jukicard.services.interaction import PinRequest, UserInteraction
from jukicard.transport.base import Transport

__all__ = ["GenuinenessReport", "authenticate_card", "check_ca_first", "load_cv_ca_key",
           "trust_policy", "APPLICATIONS", "CHECKS"]

log = logging.getLogger(__name__)

#: Which AP proves the card, and the credential asked for it.
APPLICATIONS = ("visual", "text")
#: How signed card data is checked (``card-face``, ``mynumber``, ``basic-info``): up to a
#: trusted CV CA (:func:`trust_policy`), under the card's own CV certificate only, or not
#: at all.
CHECKS = ("ca", "own-key", "none")


@dataclass(frozen=True)
class GenuinenessReport:
    """What :func:`authenticate_card` proved.  No personal data (the card id number is
    not a secret, ID-5).

    :ivar result: the card authentication (AP, trust level, CV CA key id, production).
    :ivar identity: the MF identity objects, or ``None`` if the card has none / refused.
    :ivar production_policy: True when only production J-LIS keys were trusted.
    """

    result: CardAuthResult
    identity: CardIdentity | None
    production_policy: bool

    def to_json(self) -> dict[str, Any]:
        car = self.result.ca_key_id
        return {
            "genuine": self.result.verified_to_jlis_ca,
            **self.result.to_dict(),
            "ca_key_name": car[:7].decode("ascii", "replace"),
            "ca_kind": ("production" if self.result.ca_production
                        else "test" if self.result.ca_production is False else None),
            "policy": "production" if self.production_policy else "test-keys-allowed",
            "identity": None if self.identity is None else self.identity.to_dict(),
        }


def authenticate_card(
    transport: Transport,
    interaction: UserInteraction,
    *,
    application: Literal["visual", "text"] = "visual",
    credential: Literal["match-a", "match-b", "birth", "pin"] = "match-b",
    allow_test_keys: bool = False,
    extra_keys: tuple[CvCaKey, ...] = (),
) -> GenuinenessReport:
    """Authenticate the card on ``application`` and read its MF identity.

    :param credential: what the user gives: 照合番号A/B, the birth-date PIN (visual AP) or
        the text-AP PIN (text AP).
    :raises UsageError: an unknown application/credential pair; a test key in
        ``extra_keys`` under the production policy.
    :raises UntrustedIssuerError: the card's CV CA is not trusted (e.g. a test CV CA under
        the production policy).
    :raises CardAuthenticationError: / :raises DataIntegrityError: /
        :raises IssuerKeyMismatchError: the card failed to prove itself.
    :raises PinError: / :raises TransportError: as the sessions.
    """
    policy = trust_policy(allow_test_keys=allow_test_keys, extra_keys=extra_keys)
    pins: dict[tuple[str, str], Any] = {
        ("visual", "match-a"): VisualPin.MATCH_A, ("visual", "match-b"): VisualPin.MATCH_B,
        ("visual", "birth"): VisualPin.BIRTH, ("text", "pin"): TextPin.PIN,
        ("text", "match-a"): TextPin.MATCH_A, ("text", "match-b"): TextPin.MATCH_B,
    }
    pin = pins.get((application, credential))
    if pin is None:
        raise UsageError(f"the {application} AP does not take the credential {credential!r}")
    session = VisualSession(transport) if application == "visual" else TextSession(transport)
    check_ca_first(session, policy)  # a card the policy refuses costs no credential
    value = interaction.request_pin(PinRequest(pin.spec))
    given = {credential: value}
    result: CardAuthResult
    if isinstance(session, VisualSession):
        result = session.authenticate_card(
            match_a=given.get("match-a"), match_b=given.get("match-b"),
            birth_pin=given.get("birth"), policy=policy)
    else:
        result = session.authenticate_card(
            pin=given.get("pin"), match_a=given.get("match-a"), match_b=given.get("match-b"),
            policy=policy)
    try:
        identity: CardIdentity | None = read_card_identity(transport)
    except CardError:
        identity = None
    log.info("card genuineness: %s on the %s AP", result.level.value, application)
    return GenuinenessReport(result, identity, policy.production)


class _CvCertificateReader(Protocol):
    """A session whose AP has a public CV certificate (the text and visual APs)."""

    @property
    def application(self) -> Any: ...

    def read_cv_certificate(self) -> CvCertificate: ...


def check_ca_first(session: _CvCertificateReader, policy: CardAuthPolicy) -> None:
    """Check the AP's CV certificate (EF ``0004``, readable with no credential) up to
    ``policy`` before anyone is asked for a credential, so a card the policy refuses
    costs no VERIFY (the full check runs again with the data).

    :raises UntrustedIssuerError: / :raises CvCaApplicationError: /
        :raises CvCaSignatureError: as :meth:`CardAuthPolicy.check_cv_certificate`.
    :raises DataIntegrityError: the CV certificate EF is damaged.
    :raises CardError: (a subclass) the card refused the read.
    """
    try:
        cv_cert = session.read_cv_certificate()
    except DataIntegrityError:
        raise
    except BadResponse as exc:
        raise DataIntegrityError("CV certificate EF is damaged") from exc
    policy.check_cv_certificate(cv_cert, session.application.name)


def trust_policy(
    *, allow_test_keys: bool = False, extra_keys: tuple[CvCaKey, ...] = ()
) -> CardAuthPolicy:
    """The J-LIS CV CA trust set of the commands that check a card's CV certificate (the
    CLI's ``--allow-test-keys`` / ``--ca-key``): the bundled keys
    (:func:`jukicard.card.cvca.policy`), production only unless ``allow_test_keys``, plus
    the caller's ``extra_keys`` (labelled ``ca_source: "caller"``).

    :raises UsageError: a test key in ``extra_keys`` under the production policy.
    """
    return cvca.policy(allow_test_keys=allow_test_keys, extra=extra_keys)


def load_cv_ca_key(path: str, option: str = "--ca-key") -> CvCaKey:
    """A CV CA key the caller trusts, from a self-issued CV certificate file (e.g.
    ``vectors/pki/cv/jlis-root.cvc``).

    A file cannot make its key a production J-LIS key by naming an id that starts with
    ``5`` (the id is the file's own claim): a key equal to a bundled J-LIS key is that
    bundled key (its id, kind and ``ca_source: "bundled"``), any other key is a test key
    (``ca_kind: "test"``, ``ca_source: "caller"``), trusted only with
    ``--allow-test-keys``.

    :raises InputError: unreadable or not a CV certificate.
    :raises DataIntegrityError: the bundled set is damaged.
    """
    from jukicard.services.inputs import MAX_CERTIFICATE, InputError, display_path, read_input

    data = read_input(path, option=option, what="CV CA key", limit=MAX_CERTIFICATE)
    try:
        cert = CvCertificate.parse(data)
        key = CvCaKey.from_cv_certificate(cert, production=False,
                                          provenance=f"{option} {display_path(path)}")
    except (BadResponse, UsageError):
        raise InputError(f"{option} {display_path(path)} is not a CV CA certificate",
                         option=option, path=path) from None
    bundled = cvca.key_matching(key.public_key)
    return bundled if bundled is not None and bundled.key_id == key.key_id else key
