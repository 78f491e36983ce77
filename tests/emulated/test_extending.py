"""Adding a card application touches its own modules and the detection table, nothing else.

Issue 8: a fake application is defined entirely in this test — its facts (an
:class:`~jukicard.apdu.apps.Application` with its own AID, one PIN, one public EF and one
PIN-protected EF), a session class with one read operation, and an emulator profile holding
it beside a normal My Number card.  ONE row is added to
:data:`jukicard.card.detect.DETECTION` (``monkeypatch``) and nothing else changes; the test
shows that card detection, sessions, the PIN services, ``card_info``, the CLI and the APDU
tracer of :func:`jukicard.services.open_transport` all see the new application.

Fails on the code before this change, where :class:`~jukicard.apdu.apps.App` was the
registry: ``card_info`` enumerated ``App``, the PIN table was bound to the detection table
at import time, and the tracer's allow-list came from ``App`` (the new application's public
EF was redacted); the session base required ``APPLICATION`` to be an ``App`` member.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from emulated_support import PinLedger, profile_json

from jukicard import services
from jukicard.apdu.apps import (
    App,
    Application,
    Charset,
    PinEnum,
    PinSpec,
)
from jukicard.apdu.apps import public_efs as builtin_public_efs
from jukicard.apdu.apps.jpki import JPKI, JUKI_JPKI
from jukicard.card import detect
from jukicard.card.detect import Detection, open_card
from jukicard.card.session import ApplicationSession
from jukicard.cli.main import main
from jukicard.errors import ApplicationNotFound, UsageError
from jukicard.services import pins as pin_services
from jukicard.services.interaction import ScriptedInteraction
from jukicard.transport.tracing import TRAFFIC

# --------------------------------------------------------------------------- the new application
#: A made-up proprietary AID (``F0`` + "jukidemo"): no real card has it.
DEMO_AID = bytes.fromhex("F06A756B6964656D6F")
DEMO_PIN_EF = 0x0021
PUBLIC_EF = 0x0001
SECRET_EF = 0x0002
DEMO_PIN_VALUE = "4321"  # test data of the profile below
PUBLIC_DATA = b"DEMO-PUBLIC-DATA"
SECRET_DATA = b"DEMO-SECRET-DATA"

_DEMO_PIN = PinSpec("demo", DEMO_PIN_EF, 4, 4, 3, Charset.DIGITS, "試験用暗証番号", "demo PIN")

#: The facts of the new application.
DEMO = Application("demo", DEMO_AID, "試験AP", "demo application", pins=(_DEMO_PIN,),
                   public_efs=frozenset({PUBLIC_EF}))


class DemoPin(PinEnum):
    """The one PIN of the demo application."""

    PIN = _DEMO_PIN


class DemoSession(ApplicationSession[DemoPin]):
    """The session of the demo application: one read operation."""

    APPLICATION: ClassVar[Application] = DEMO
    PINS: ClassVar[tuple[DemoPin, ...]] = tuple(DemoPin)

    def read(self, ef: int, pin: str | None = None) -> bytes:
        """Read EF ``ef`` whole (after VERIFY of ``pin`` in the same transaction)."""
        unlock = self._unlock([(DemoPin.PIN, pin)])
        with self._operation(fresh=unlock is not None):
            if unlock is not None:
                self._verify(*unlock)
            self._select_ef(ef, "demo EF")
            return self._read_whole("demo EF", limit=256)


#: The one row added to the detection table.
DEMO_ROW = Detection(DEMO, DemoSession)


def _demo_profile() -> dict[str, Any]:
    """A normal My Number card (mynumber-01) with the demo application added."""
    prof = profile_json("mynumber-01")
    prof["name"] = "mynumber-demo"
    prof["applications"].append({
        "name": "demo",
        "aid": DEMO_AID.hex().upper(),
        "files": [
            {"fid": f"{DEMO_PIN_EF:04X}", "kind": "pin", "value": DEMO_PIN_VALUE,
             "min_len": 4, "max_len": 4, "max_tries": 3, "tries_left": 3},
            {"fid": f"{PUBLIC_EF:04X}", "kind": "binary", "data": PUBLIC_DATA.hex()},
            {"fid": f"{SECRET_EF:04X}", "kind": "binary", "data": SECRET_DATA.hex(),
             "read": {"any_of": [f"{DEMO_PIN_EF:04X}"]}},
        ],
    })
    return prof


@pytest.fixture
def profile_path(tmp_path: Path) -> Path:
    path = tmp_path / "mynumber-demo.json"
    path.write_text(json.dumps(_demo_profile()), encoding="utf-8")
    return path


@pytest.fixture
def extended(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one change: a row for the demo application in the detection table."""
    monkeypatch.setattr(detect, "DETECTION", (*detect.DETECTION, DEMO_ROW))


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


# --------------------------------------------------------------------------- the card layer
@pytest.mark.usefixtures("extended")
def test_open_card_finds_it_and_hands_out_its_session(profile_path: Path) -> None:
    with services.open_transport(profile=profile_path) as transport:
        card = open_card(transport)
        assert card.has(DEMO) and DEMO in card.applications
        assert card.has(App.JPKI) and card.has(JPKI)  # built-ins unchanged
        assert card.card_type is detect.CardType.MYNUMBER
        assert DEMO in detect.applications()
        session = card.session(DEMO)
        assert isinstance(session, DemoSession) and session.channel is card.channel
        assert card.session_class(DEMO) is DemoSession
        assert session.read(PUBLIC_EF) == PUBLIC_DATA
        # the channel is shared: another application's session in between is noticed
        assert card.jpki().token_info().token == "JPKIAPICCTOKEN2"
        assert session.read(PUBLIC_EF) == PUBLIC_DATA


def test_without_the_row_the_card_has_no_demo_application(profile_path: Path) -> None:
    with services.open_transport(profile=profile_path) as transport:
        card = open_card(transport)
        assert not card.has(DEMO)
        with pytest.raises(ApplicationNotFound):
            card.session(DEMO)
        assert "demo" not in [s.id for s in services.pin_status_all(transport)]


# --------------------------------------------------------------------------- services
@pytest.mark.usefixtures("extended")
def test_pin_services_list_and_verify_its_pin(profile_path: Path, pins: PinLedger) -> None:
    assert "demo" in pin_services.pin_ids()
    with services.open_transport(profile=profile_path) as transport:
        states = {s.id: s for s in services.pin_status_all(transport)}
        assert {"auth", "sign", "text", "demo"} <= set(states)
        demo = states["demo"]
        assert (demo.app, demo.retries_left, demo.max_tries) == ("demo", 3, 3)
        assert demo.label_ja == "試験用暗証番号"
        asked = ScriptedInteraction([pins.submit(DEMO_PIN_VALUE)])
        state = pin_services.verify_pin(transport, "demo", asked)
        assert (state.id, state.app, state.retries_left) == ("demo", "demo", 3)
        assert len(asked.requests) == 1 and asked.requests[0].pin is _DEMO_PIN


@pytest.mark.usefixtures("extended")
def test_card_info_lists_it(profile_path: Path) -> None:
    with services.open_transport(profile=profile_path) as transport:
        info = services.card_info(transport)
    assert [a.name for a in info.applications] == ["jpki", "text", "visual", "demo"]
    demo = info.applications[-1]
    assert (demo.label, demo.aid) == ("試験AP", DEMO_AID)
    assert info.card_type == "mynumber" and len(info.certificates) == 4


@pytest.mark.usefixtures("extended")
def test_cli_shows_its_pin(profile_path: Path, pins: PinLedger,
                           capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    capsys.readouterr()
    assert main(["pin", "status", "--json", "--profile", str(profile_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    demo = [p for p in data["pins"] if p["id"] == "demo"]
    assert demo and demo[0]["application"] == "demo" and demo[0]["retries_left"] == 3
    # `pin verify` takes the new id too (its choices are read when the command runs)
    monkeypatch.setattr(sys, "stdin", io.StringIO(pins.submit(DEMO_PIN_VALUE) + "\n"))
    rc = main(["pin", "verify", "demo", "--pin-stdin", "--json", "--profile",
               str(profile_path)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert json.loads(out.out)["verified"] is True


# --------------------------------------------------------------------------- the APDU tracer
@pytest.mark.usefixtures("extended")
def test_traffic_log_shows_its_public_ef_and_redacts_the_rest(
    profile_path: Path, pins: PinLedger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(TRAFFIC, logger="jukicard.transport.tracing")
    with services.open_transport(profile=profile_path) as transport:
        session = open_card(transport).session(DEMO)
        assert isinstance(session, DemoSession)
        assert session.read(PUBLIC_EF) == PUBLIC_DATA
        assert session.read(SECRET_EF, pin=pins.submit(DEMO_PIN_VALUE)) == SECRET_DATA
    log = "\n".join(r.getMessage() for r in caplog.records if r.levelno == TRAFFIC)
    assert f"RECV {_hex(PUBLIC_DATA)} 9000" in log
    assert _hex(SECRET_DATA) not in log and f"<redacted {len(SECRET_DATA)} bytes>" in log
    for secret in (_hex(DEMO_PIN_VALUE.encode()), DEMO_PIN_VALUE):
        assert secret not in log
    assert "<redacted PIN data>" in log and "Lc=4" not in log


# --------------------------------------------------------------------------- the built-in table
def _builtin_rows() -> tuple[Detection, ...]:
    """The rows of the detection table for built-in applications (a row added for a new
    application, as the README's "Extending" section describes, is left out)."""
    builtin = {a.application for a in App}
    return tuple(row for row in detect.DETECTION if row.app in builtin)


def test_builtin_table_enumerations_are_unchanged() -> None:
    """The detection table gives, for the built-in applications, the same lists the
    ``App`` catalogue gave before (derived from the table, so a row added for a new
    application does not need an edit here)."""
    rows = _builtin_rows()
    builtin_efs = frozenset((app.aid, ef.to_bytes(2, "big")) for row in rows
                            for app in row.applications() for ef in app.public_efs)
    assert builtin_efs == builtin_public_efs() and builtin_efs <= detect.public_efs()
    builtin_ids = tuple(dict.fromkeys(p.spec.id for row in rows for cls in row.session_classes()
                                      for p in cls.PINS))
    assert builtin_ids == (
        "auth", "sign", "text", "text-match-a", "text-match-b",
        "visual-match-a", "visual-match-b", "visual-birth", "juki")
    for ids in (pin_services.pin_ids(), pin_services.PIN_IDS):
        assert tuple(i for i in ids if i in builtin_ids) == builtin_ids
    for ids in (pin_services.changeable_pin_ids(), pin_services.CHANGEABLE_PINS):
        assert tuple(i for i in ids if i in builtin_ids) == ("auth", "sign")
    assert tuple(row.app for row in rows) == tuple(
        a.application for a in (App.JPKI, App.TEXT, App.VISUAL, App.JUKI))
    assert tuple(a for a in detect.applications() if a in {r.app for r in rows}) == tuple(
        row.app for row in rows)


def test_card_accepts_app_members_and_facts(profile_path: Path) -> None:
    with services.open_transport(profile="juki-01") as transport:
        card = open_card(transport)
    assert card.applications == frozenset({JPKI, App.JUKI.application})
    for ref in (App.JPKI, JPKI, JUKI_JPKI):
        assert card.has(ref)
        assert card.session_class(ref).__name__ == "JukiJpkiSession"
    assert card.session(JUKI_JPKI).application is JUKI_JPKI
    assert not card.has(App.TEXT) and not card.has(DEMO)
    with services.open_transport(profile=profile_path) as transport:
        card = open_card(transport)
    assert not card.has(JUKI_JPKI)  # a My Number card's JPKI AP is not the 住基 variant
    with pytest.raises(ApplicationNotFound):
        card.session(JUKI_JPKI)


def test_a_row_is_keyed_by_facts_and_checked() -> None:
    """A row written the old way (``App`` member) is normalised to the facts; a row whose
    session class talks to another application is refused."""
    from jukicard.card.juki import JukiSession

    assert Detection(App.JUKI, JukiSession).app is App.JUKI.application
    assert DEMO_ROW.applications() == (DEMO,)
    assert detect.DETECTION[0].applications() == (JPKI, JUKI_JPKI)
    with pytest.raises(UsageError):
        Detection(JPKI, DemoSession)



def test_the_session_base_documents_its_helpers_for_subclass_authors() -> None:
    """Review of issue 8: the helpers a new session needs were shown only in this test
    module.  ``ApplicationSession``'s docstring now has a "Writing a session" section;
    every helper it names exists (so the section cannot silently rot), and it names the
    ones this module's ``DemoSession`` uses."""
    import re

    doc = ApplicationSession.__doc__ or ""
    assert "Writing a session" in doc
    named = set(re.findall(r"self\.(_[a-z_]+)\(", doc))
    assert {"_operation", "_unlock", "_verify", "_select_ef", "_read_whole", "_read_tlv_ef",
            "_read_sized", "_send", "_pin", "_encode_pin"} <= named
    for helper in named:
        assert callable(getattr(ApplicationSession, helper, None)), helper
