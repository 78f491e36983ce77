"""Reading the 券面事項確認AP (the card face: name and address images, photo, birth date,
sex, expiry) with the authenticity of what was read (issue 11, VIS-5).

The credential — 照合番号A or 照合番号B — comes from the user through
:class:`~jukicard.services.interaction.UserInteraction` (one request, one VERIFY).  By
default the record's signature is checked up to the bundled J-LIS CV CA keys of the
visual AP (:mod:`jukicard.card.cvca`), production only unless ``allow_test_keys``, the
same trust set as :func:`jukicard.services.genuineness.authenticate_card`.

NOTE: personal data; nothing read here is logged.
"""

from __future__ import annotations

import logging
from typing import Literal

from jukicard.apdu.apps.visual import VisualPin
from jukicard.card import cvca
from jukicard.card.cardauth import CvCaKey
from jukicard.card.detect import open_card
from jukicard.card.visual_data import VisualEntries
from jukicard.errors import UsageError
from jukicard.services.genuineness import CHECKS, check_ca_first
from jukicard.services.interaction import UserInteraction
from jukicard.services.pins import ask_pin
from jukicard.transport.base import Transport

__all__ = ["read_card_face", "CHECKS", "CREDENTIALS"]

log = logging.getLogger(__name__)

#: The credentials that open the entries EF.
CREDENTIALS = ("match-a", "match-b")


def read_card_face(
    transport: Transport,
    interaction: UserInteraction,
    *,
    credential: Literal["match-a", "match-b"] = "match-b",
    check: Literal["ca", "own-key", "none"] = "ca",
    allow_test_keys: bool = False,
    extra_keys: tuple[CvCaKey, ...] = (),
) -> VisualEntries:
    """Read the card-face items; :attr:`VisualEntries.authenticity` says what was checked
    (``verified-to-jlis-ca`` with ``check="ca"``, ``self-consistent-only`` with
    ``"own-key"``, ``not-checked`` with ``"none"``).

    :param credential: what the user gives: 照合番号A (the My Number) or 照合番号B.
    :param allow_test_keys: / :param extra_keys: the trust set, as
        :func:`jukicard.services.genuineness.authenticate_card` (``check="ca"`` only).
    :raises UsageError: an unknown credential or check; trust options without
        ``check="ca"``; a test key in ``extra_keys`` under the production policy (nothing
        asked, nothing sent).
    :raises UntrustedIssuerError: / :raises CvCaApplicationError: the card's CV CA is not
        trusted for the visual AP.
    :raises DataIntegrityError: the record does not verify (tampered) — never returned.
    :raises PinError: / :raises PinBlockedError: / :raises TransportError: as the session.
    """
    if credential not in CREDENTIALS:
        raise UsageError(f"the visual AP's entries take {' or '.join(CREDENTIALS)}")
    if check not in CHECKS:
        raise UsageError(f"check is one of {', '.join(CHECKS)}")
    if check != "ca" and (allow_test_keys or extra_keys):
        raise UsageError("trusted CV CA keys are used only when checking up to a CV CA")
    policy = cvca.policy(allow_test_keys=allow_test_keys, extra=extra_keys) \
        if check == "ca" else None
    visual = open_card(transport).visual()
    if policy is not None:
        check_ca_first(visual, policy)  # a card the policy refuses costs no credential
    ref = VisualPin.MATCH_A if credential == "match-a" else VisualPin.MATCH_B
    value = ask_pin(visual, ref, interaction)
    given = {credential: value}
    entries = visual.read_entries(match_a=given.get("match-a"), match_b=given.get("match-b"),
                                  verify=check != "none", policy=policy)
    log.info("card face read (%s)", entries.trust_level)
    return entries
