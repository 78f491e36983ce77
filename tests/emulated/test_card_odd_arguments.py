"""Odd arguments to the public card-layer and service operations give typed errors only.

The review of issue 8 (``/tmp/ra/oddtypes.py``) passed wrong types where a caller might:
``open_card(None)``, ``card.session("jpki")``, a ``str`` digest, ``sign_file(None)``,
``MyNumber(int)``, ``MyNumber.parse(str)``, ``card_info(at="2026")``, no interaction...
Old code: ``AttributeError``/``TypeError`` escaped (and ``card_info(at="2026")`` succeeded,
then its ``to_json()`` raised ``TypeError``).  Now only :class:`~jukicard.errors.JukiError`
(for a caller's mistake: :class:`~jukicard.errors.UsageError`) escapes, and nothing reaches
the card's PIN files: the PIN ledger (``conftest.py``) counts every VERIFY with data.

The hostile-*card* counterpart is ``test_card_fuzz.py``; the PC/SC event source's odd
timeouts are in ``tests/unit/test_transport_events.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import pytest
from emulated_support import PINS, Emulated

from jukicard.card import (
    BasicInfo,
    CvCertificate,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JpkiSession,
    MyNumber,
    ResidentCode,
    TextSession,
    TokenInfo,
    VisualBirth,
    VisualEntries,
    open_card,
)
from jukicard.card.common_data import CommonCardId
from jukicard.card.text_data import (
    ApBasicInfo,
    TextApSignature,
    basic_info_hash_range,
    is_valid_my_number,
    my_number_check_digit,
)
from jukicard.errors import ApplicationNotFound, JukiError, UsageError
from jukicard.services import (
    ScriptedInteraction,
    card_info,
    pin_status_all,
    read_my_number,
    sign_data,
    sign_digest,
    sign_file,
)
from jukicard.services import pins as pin_services
from jukicard.transport.loopback import LoopbackTransport

DIGEST = hashlib.sha256(b"odd").digest()
Case = Callable[[LoopbackTransport], object]


def _ask(*values: str) -> ScriptedInteraction:
    return ScriptedInteraction(list(values))


#: name -> (operation on a fresh mynumber-01 transport, the error it must raise)
CASES: dict[str, tuple[Case, type[JukiError]]] = {
    # transports that are not transports
    "open_card(None)": (lambda t: open_card(None), UsageError),  # type: ignore[arg-type]
    "open_card(str)": (lambda t: open_card("transport"), UsageError),  # type: ignore[arg-type]
    "JpkiSession(None)": (lambda t: JpkiSession(None), UsageError),  # type: ignore[arg-type]
    "pin_status_all(None)": (lambda t: pin_status_all(None), UsageError),  # type: ignore[arg-type]
    "card_info(None)": (lambda t: card_info(None), UsageError),  # type: ignore[arg-type]
    # applications by something else than their facts
    "card.session(None)": (lambda t: open_card(t).session(None), UsageError),  # type: ignore[arg-type]
    "card.session(5)": (lambda t: open_card(t).session(5), UsageError),  # type: ignore[arg-type]
    "card.session('nope')": (lambda t: open_card(t).session("nope"), ApplicationNotFound),
    # signing services
    "sign_digest(str)": (lambda t: sign_digest(t, _ask(PINS["sign"]), "ab" * 16),  # type: ignore[arg-type]
                         UsageError),
    "sign_digest(None)": (lambda t: sign_digest(t, _ask(PINS["sign"]), None),  # type: ignore[arg-type]
                          UsageError),
    "sign_digest(key=1234)": (lambda t: sign_digest(t, _ask(PINS["sign"]), DIGEST, key=1234),  # type: ignore[arg-type]
                              UsageError),
    "sign_data(str)": (lambda t: sign_data(t, _ask(PINS["sign"]), "text"),  # type: ignore[arg-type]
                       UsageError),
    "sign_file(None)": (lambda t: sign_file(t, _ask(PINS["sign"]), None),  # type: ignore[arg-type]
                        UsageError),
    "sign_file(3.5)": (lambda t: sign_file(t, _ask(PINS["sign"]), 3.5),  # type: ignore[arg-type]
                       UsageError),
    # no interaction
    "read_my_number(interaction=None)": (lambda t: read_my_number(t, None),  # type: ignore[arg-type]
                                         UsageError),
    "verify_pin(interaction=None)": (lambda t: pin_services.verify_pin(t, "auth", None),  # type: ignore[arg-type]
                                     UsageError),
    # card_info's time
    "card_info(at=str)": (lambda t: card_info(t, at="2026"), UsageError),  # type: ignore[arg-type]
    "card_info(at=date)": (lambda t: card_info(t, at=dt.date(2026, 1, 1)),  # type: ignore[arg-type]
                           UsageError),
    "card_info(at=naive)": (lambda t: card_info(t, at=dt.datetime(2026, 1, 1)), UsageError),
    # sessions
    "sign(digest=str)": (lambda t: JpkiSession(t).sign(JpkiKey.AUTH, PINS["auth"], digest="ab"),  # type: ignore[arg-type]
                         UsageError),
    "read_certificate('sign')": (lambda t: JpkiSession(t).read_certificate("sign"),  # type: ignore[arg-type]
                                 UsageError),
    "read_verified(issuer_key=str)": (
        lambda t: TextSession(t).read_verified(PINS["text"], issuer_key="k"),  # type: ignore[arg-type]
        UsageError),
    "pin_status('auth')": (lambda t: JpkiSession(t).pin_status("auth"), UsageError),  # type: ignore[arg-type]
    "verify(b'1234')": (lambda t: JpkiSession(t).verify(JpkiPin.AUTH, b"1234"),  # type: ignore[arg-type]
                        UsageError),
    # data objects: the wrong type in, a caller's mistake out
    "MyNumber(int)": (lambda t: MyNumber(201867807611), UsageError),  # type: ignore[arg-type]
    "ResidentCode(int)": (lambda t: ResidentCode(10565175097), UsageError),  # type: ignore[arg-type]
    "my_number_check_digit(int)": (lambda t: my_number_check_digit(20186780761),  # type: ignore[arg-type]
                                   UsageError),
    **{f"{cls.__name__}.parse({name})": ((lambda t, cls=cls, v=v: cls.parse(v)), UsageError)
       for cls in (MyNumber, BasicInfo, CvCertificate, TokenInfo, ResidentCode, VisualBirth,
                   VisualEntries, ApBasicInfo, TextApSignature, CommonCardId)
       for name, v in (("str", "FF10"), ("int", 5), ("None", None), ("list", [0xFF, 0x10]))},
    "basic_info_hash_range(str)": (lambda t: basic_info_hash_range("FF20"),  # type: ignore[arg-type]
                                   UsageError),
    "CvCertificate.verify_issuer(str)": (
        lambda t: CvCertificate.parse(TextSession(t).read_cv_certificate().__bytes__())
        .verify_issuer("key"),  # type: ignore[arg-type]
        UsageError),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_odd_arguments_give_typed_errors(mynumber: Emulated, name: str) -> None:
    run, expected = CASES[name]
    try:
        run(mynumber.transport)
    except JukiError as exc:
        assert isinstance(exc, expected), f"{name}: {type(exc).__name__}: {exc}"
    except Exception as exc:  # the failure this test is for
        pytest.fail(f"{name}: untyped {type(exc).__module__}.{type(exc).__name__}: {exc}")
    else:
        pytest.fail(f"{name}: no error")
    assert mynumber.card.stats.verify_with_data == 0


def test_is_valid_my_number_of_a_non_str_is_false() -> None:
    """Old code: ``TypeError`` (``len()`` of an int)."""
    assert is_valid_my_number(201867807611) is False  # type: ignore[arg-type]
    assert is_valid_my_number("201867807611") is True


def test_applications_by_name(mynumber: Emulated) -> None:
    """``card.session("jpki")`` — the natural spelling — gives the JPKI session, and
    ``card.has("text")`` the truth.  Old code: ``AttributeError``, and ``has("text")`` was
    ``False`` on a card with the text AP."""
    card = open_card(mynumber.transport)
    assert isinstance(card.session("jpki"), JpkiSession)
    assert isinstance(card.session("text"), TextSession)
    assert card.has("text") and card.has("visual") and not card.has("juki")
    assert not card.has("no-such-application")
    assert card.session("jpki").read_certificate(JpkiCert.AUTH_CA)[:2] == b"\x30\x82"


def test_card_info_at_an_aware_time_still_serialises(mynumber: Emulated) -> None:
    at = dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    info = card_info(mynumber.transport, at=at)
    assert info.to_json()["checked_at"] == at.isoformat()
