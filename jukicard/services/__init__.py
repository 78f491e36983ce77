"""jukicard.services: counter use cases on top of the card sessions.

Each service takes a :class:`~jukicard.transport.base.Transport` (from
:func:`open_transport`) and, when it needs a PIN, a :class:`UserInteraction` to ask it
through; it returns data objects with ``to_json()``.  Card logic stays in
:mod:`jukicard.card`, presentation in :mod:`jukicard.cli`.

::

    with open_transport(emulated=True) as t:     # a reader: open_transport(reader=...)
        info = card_info(t)                       # no PIN, no personal data
        pins = pin_status_all(t)                  # no counter touched
        res = sign_file(t, ScriptedInteraction(["ABC123"]), "doc.pdf", key="sign")

    report = verify_certificate("leaf.cer", VerifyOptions(anchors=("root.cer",),
                                                          crls=("root.crl",)))
    report.valid, report.to_json()

:func:`open_transport` never hands out the built-in test card on its own: only with
``emulated=True``, or with ``fallback=True`` when no reader can be used *and* the deployment
switch allows it (:func:`fallback_setting`).  Option inputs that are wrong (an anchor file
holding a CRL…) raise :class:`InputError`, a :class:`~jukicard.errors.UsageError` naming the
option and the file.
"""

from __future__ import annotations

from jukicard.services.connect import (
    EMULATED_PROFILE,
    FALLBACK_NOTICE,
    CardSource,
    FallbackSetting,
    describe_transport,
    emulated_transport,
    fallback_enabled,
    fallback_setting,
    open_transport,
    open_with_source,
)
from jukicard.services.data import (
    CERT_IDS,
    export_certificate,
    read_basic_info,
    read_my_number,
    read_verified,
    to_pem,
)
from jukicard.services.info import ApplicationSummary, CardInfo, CertificateSummary, card_info
from jukicard.services.inputs import InputError, load_issuer_key
from jukicard.services.interaction import (
    NoInteraction,
    PinPrompt,
    PinRequest,
    ScriptedInteraction,
    UserInteraction,
)
from jukicard.services.pins import (
    CHANGEABLE_PINS,
    PIN_IDS,
    PinState,
    change_pin,
    changeable_pin_ids,
    pin_ids,
    pin_status_all,
    verify_pin,
)
from jukicard.services.readers import (
    CardIdentity,
    ReaderInfo,
    WatchReport,
    identify_card_in,
    reader_infos,
    watch_cards,
)
from jukicard.services.signatures import SignatureOptions, verify_signature
from jukicard.services.signing import KEY_IDS, SignResult, sign_data, sign_digest, sign_file
from jukicard.services.verify import VerifyOptions, VerifyReport, verify_certificate

__all__ = [
    "EMULATED_PROFILE", "FALLBACK_NOTICE", "CardSource", "FallbackSetting", "describe_transport",
    "emulated_transport", "fallback_enabled", "fallback_setting", "open_transport",
    "open_with_source",
    "CERT_IDS", "export_certificate", "load_issuer_key", "read_basic_info", "read_my_number",
    "read_verified", "to_pem",
    "InputError",
    "ApplicationSummary", "CardInfo", "CertificateSummary", "card_info",
    "NoInteraction", "PinPrompt", "PinRequest", "ScriptedInteraction", "UserInteraction",
    "CHANGEABLE_PINS", "PIN_IDS", "PinState", "change_pin", "changeable_pin_ids", "pin_ids",
    "pin_status_all", "verify_pin",
    "CardIdentity", "ReaderInfo", "WatchReport", "identify_card_in", "reader_infos",
    "watch_cards",
    "KEY_IDS", "SignResult", "sign_data", "sign_digest", "sign_file",
    "SignatureOptions", "VerifyOptions", "VerifyReport", "verify_certificate",
    "verify_signature",
]
