"""TracingTransport: TRAFFIC-level logging with PINs and personal data redacted."""

from __future__ import annotations

import logging

import pytest

from jukicard.errors import CardResetError
from jukicard.transport import LoopbackTransport
from jukicard.transport.tracing import (
    DEFAULT_PUBLIC_EFS,
    JPKI_AID,
    TEXT_AID,
    TRAFFIC,
    TracingTransport,
    format_command,
)

LOGGER = "test.jukicard.traffic"
ATR = bytes.fromhex("3BE000FF8131FE4514")
MY_NUMBER_EF = bytes.fromhex("FF100C") + b"123456789018" + b"\xff\xff"
CERT_HEAD = bytes.fromhex("308206 1F 3082".replace(" ", ""))


class QueueCard:
    """Answers each APDU with the next queued response (default 9000)."""

    def __init__(self) -> None:
        self.atr = ATR
        self.answers: list[bytes] = []
        self.received: list[bytes] = []

    def execute(self, apdu: bytes) -> bytes:
        self.received.append(apdu)
        return self.answers.pop(0) if self.answers else b"\x90\x00"

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...


@pytest.fixture
def rig(
    caplog: pytest.LogCaptureFixture,
) -> tuple[TracingTransport, QueueCard, pytest.LogCaptureFixture]:
    caplog.set_level(TRAFFIC, logger=LOGGER)
    card = QueueCard()
    inner = LoopbackTransport(card)
    return TracingTransport(inner, logger=logging.getLogger(LOGGER)), card, caplog


def text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def select_aid(aid: bytes) -> bytes:
    return bytes((0x00, 0xA4, 0x04, 0x0C, len(aid))) + aid


def select_ef(fid: str) -> bytes:
    return bytes.fromhex("00A4020C02" + fid)


READ = bytes.fromhex("00B0000000")


def read_ef(t: TracingTransport, card: QueueCard, aid: bytes, fid: str, content: bytes) -> None:
    t.transmit(select_aid(aid))
    t.transmit(select_ef(fid))
    card.answers.append(content + b"\x90\x00")
    assert t.transmit(READ) == (content, 0x9000)


def test_traffic_level_registered() -> None:
    assert TRAFFIC == 5 < logging.DEBUG
    assert logging.getLevelName(TRAFFIC) == "TRAFFIC"


def test_logs_commands_and_responses_at_traffic(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    t.transmit(select_aid(JPKI_AID))
    assert [r.levelno for r in caplog.records] == [TRAFFIC, TRAFFIC]
    assert caplog.records[0].getMessage() == "SEND 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
    assert caplog.records[1].getMessage() == "RECV 9000"


# every PIN-bearing INS: VERIFY, CHANGE REFERENCE DATA, DISABLE / ENABLE VERIFICATION
# REQUIREMENT (their data is the PIN too) and both RESET RETRY COUNTER codes
@pytest.mark.parametrize("ins", ["20", "21", "24", "26", "28", "2C", "2D"])
def test_pin_data_is_redacted(rig, ins: str) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    apdu = bytes.fromhex(f"00{ins}008004") + b"1234"
    card.answers.append(b"\x63\xc2")
    assert t.transmit(apdu) == (b"", 0x63C2)
    assert card.received[-1] == apdu  # the card still gets the PIN
    log = text(caplog)
    assert "31 32 33 34" not in log and "1234" not in log
    assert f"SEND 00 {ins} 00 80 <redacted PIN data>" in log
    assert "RECV 63C2" in log


def test_every_processor_pin_ins_is_redacted() -> None:
    from jukicard.apdu.processors import PIN_INS

    for ins in PIN_INS:
        out = format_command(bytes((0x00, ins, 0x00, 0x80, 4)) + b"1234")
        assert "31 32 33 34" not in out and out.endswith("<redacted PIN data>"), f"{ins:02X}"


@pytest.mark.parametrize("ins", ["20", "24"])
def test_pin_length_is_not_logged(ins: str) -> None:
    """Review of issue 8: the old tracer logged ``Lc=6 <redacted 6 bytes>`` for a VERIFY of
    the sign password — the password's length.  Now a 6- and a 16-character password give
    the same line."""
    short = format_command(bytes.fromhex(f"00{ins}008006") + b"ABC123")
    long = format_command(bytes.fromhex(f"00{ins}008010") + b"ABCDEF1234567890")
    assert short == long == f"00 {ins} 00 80 <redacted PIN data>"
    assert "Lc" not in short and "6" not in short.split("80", 1)[1]


def test_pin_status_query_without_data_is_logged_plainly(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    card.answers.append(b"\x63\xc3")
    t.transmit(bytes.fromhex("00200080"))
    assert "SEND 00 20 00 80" in text(caplog)


def test_format_command_malformed_pin_apdu() -> None:
    out = format_command(bytes.fromhex("0020008009") + b"1234")  # Lc says 9, 4 follow
    assert out == "00 20 00 80 <redacted PIN data>"
    assert format_command(bytes.fromhex("002400010C") + b"12345678abcd" + b"\x00") == (
        "00 24 00 01 <redacted PIN data> Le=256"
    )


@pytest.mark.parametrize("fid", ["000A", "000B", "0002", "0006"])
def test_public_jpki_efs_are_logged(rig, fid: str) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    read_ef(t, card, JPKI_AID, fid, CERT_HEAD)
    assert f"RECV {CERT_HEAD.hex(' ').upper()} 9000" in text(caplog)


def test_sign_cert_is_redacted(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    read_ef(t, card, JPKI_AID, "0001", CERT_HEAD)
    assert "RECV <redacted 6 bytes> 9000" in text(caplog)
    assert CERT_HEAD.hex(" ").upper() not in text(caplog)


def test_my_number_is_redacted_and_basic_info_logged(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    read_ef(t, card, TEXT_AID, "0001", MY_NUMBER_EF)
    log = text(caplog)
    assert "RECV <redacted 17 bytes> 9000" in log
    assert "31 32 33" not in log and "123456789018" not in log
    read_ef(t, card, TEXT_AID, "0005", bytes.fromhex("FF4000"))
    assert "RECV FF 40 00 9000" in text(caplog)


def test_allow_list_is_per_application(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    read_ef(t, card, TEXT_AID, "000A", b"secret")  # 000A is public only in the JPKI AP
    assert "RECV <redacted 6 bytes> 9000" in text(caplog)


def test_selecting_another_application_forgets_the_ef(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    read_ef(t, card, JPKI_AID, "000A", b"pub")
    t.transmit(select_aid(TEXT_AID))
    card.answers.append(b"data\x90\x00")
    t.transmit(READ)
    assert text(caplog).splitlines()[-1] == "RECV <redacted 4 bytes> 9000"


def test_failed_selects_make_the_ef_unknown(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    read_ef(t, card, JPKI_AID, "000A", b"pub")
    card.answers.append(b"\x6a\x82")
    t.transmit(select_ef("0099"))
    card.answers.append(b"data\x90\x00")
    t.transmit(READ)
    assert text(caplog).splitlines()[-1] == "RECV <redacted 4 bytes> 9000"
    card.answers.append(b"\x6a\x82")
    t.transmit(select_aid(JPKI_AID))  # failed AP select: application unknown too
    t.transmit(select_ef("000A"))
    card.answers.append(b"data\x90\x00")
    t.transmit(READ)
    assert text(caplog).splitlines()[-1] == "RECV <redacted 4 bytes> 9000"


def test_other_select_forms_make_selection_unknown(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    t.transmit(select_aid(JPKI_AID))
    t.transmit(select_ef("000A"))
    t.transmit(bytes.fromhex("00A4000C023F00"))  # select MF by FID
    card.answers.append(b"data\x90\x00")
    t.transmit(READ)
    assert text(caplog).splitlines()[-1] == "RECV <redacted 4 bytes> 9000"


def test_short_ef_identifier_reads(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    t.transmit(select_aid(JPKI_AID))
    card.answers.append(b"pub\x90\x00")
    t.transmit(bytes.fromhex("00B08A0000"))  # SFI 0A
    assert text(caplog).splitlines()[-1] == "RECV 70 75 62 9000"
    t.transmit(select_aid(TEXT_AID))
    card.answers.append(MY_NUMBER_EF + b"\x90\x00")
    t.transmit(bytes.fromhex("00B0810011"))  # SFI 01 = My Number
    assert text(caplog).splitlines()[-1] == "RECV <redacted 17 bytes> 9000"


def test_read_record_and_odd_ins_redacted(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    t.transmit(select_aid(JPKI_AID))
    t.transmit(select_ef("0006"))
    card.answers.append(b"rec\x90\x00")
    t.transmit(bytes.fromhex("00B2010C00"))  # READ RECORD, SFI 01 (not public)
    assert text(caplog).splitlines()[-1] == "RECV <redacted 3 bytes> 9000"
    card.answers.append(b"odd\x90\x00")
    t.transmit(bytes.fromhex("00B100000354010000"))
    assert text(caplog).splitlines()[-1] == "RECV <redacted 3 bytes> 9000"


def test_get_response_inherits_redaction(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    t.transmit(select_aid(TEXT_AID))
    t.transmit(select_ef("0001"))
    card.answers += [MY_NUMBER_EF[:10] + b"\x61\x07", MY_NUMBER_EF[10:] + b"\x90\x00"]
    t.transmit(READ)
    t.transmit(bytes.fromhex("00C0000007"))
    lines = text(caplog).splitlines()
    assert lines[-3] == "RECV <redacted 10 bytes> 6107"
    assert lines[-1] == "RECV <redacted 7 bytes> 9000"
    # public EF: the continuation is logged
    t.transmit(select_aid(JPKI_AID))
    t.transmit(select_ef("000B"))
    card.answers += [b"ab\x61\x02", b"cd\x90\x00"]
    t.transmit(READ)
    t.transmit(bytes.fromhex("00C0000002"))
    assert text(caplog).splitlines()[-1] == "RECV 63 64 9000"


def test_reset_forgets_selection_and_logs_failure(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    t.transmit(select_aid(JPKI_AID))
    t.transmit(select_ef("000A"))
    t.inject("reset", 1)  # forwarded to the loopback transport
    with pytest.raises(CardResetError):
        t.transmit(READ)
    assert "RECV (no response: CardResetError)" in text(caplog)
    card.answers.append(b"data\x90\x00")
    t.transmit(READ)
    assert text(caplog).splitlines()[-1] == "RECV <redacted 4 bytes> 9000"


def test_generation_change_forgets_selection(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    t.transmit(select_aid(JPKI_AID))
    t.transmit(select_ef("000A"))
    t.inner.reset()  # type: ignore[attr-defined]
    card.answers.append(b"data\x90\x00")
    t.transmit(READ)
    assert text(caplog).splitlines()[-1] == "RECV <redacted 4 bytes> 9000"


def test_empty_allow_list_redacts_every_read(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRAFFIC, logger=LOGGER)
    card = QueueCard()
    t = TracingTransport(LoopbackTransport(card), logging.getLogger(LOGGER), public_efs=())
    read_ef(t, card, JPKI_AID, "000A", b"pub")
    assert text(caplog).splitlines()[-1] == "RECV <redacted 3 bytes> 9000"
    assert t.public_efs == frozenset() and len(DEFAULT_PUBLIC_EFS) == 5


def test_nothing_logged_above_traffic(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    card = QueueCard()
    t = TracingTransport(LoopbackTransport(card), logging.getLogger(LOGGER))
    t.transmit(bytes.fromhex("0020008004") + b"1234")
    assert caplog.records == []
    assert card.received  # still sent


def test_passthrough(rig) -> None:  # type: ignore[no-untyped-def]
    t, card, caplog = rig
    assert t.atr == ATR and t.generation == 1
    with t.transaction():
        assert t.transaction_depth == 1
        t.transmit(select_aid(JPKI_AID))
    assert t.apdus_outside_transaction == 0
    with t:
        pass
    assert t.inner.closed  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        t.no_such_attribute  # noqa: B018


# --------------------------------------------------------------------------- allow-list facts
#: EFs holding personal data or identifying the card, per application (card-interface §3).
PERSONAL_EFS = {
    "jpki": (0x0001,),  # the sign certificate: name, address, birth date
    "text": (0x0001, 0x0002, 0x0003),  # My Number, 基本4情報, their digests
    "visual": (0x0001, 0x0002, 0x0003, 0x0005),  # birth, card face, city, My Number image
    "common": (0x0001,),  # the card id
    "juki": (0x0001,),  # the 住民票コード
}


def test_default_allow_list_comes_from_the_facts() -> None:
    """The tracer's public EFs are the union of what each application's facts call public,
    and no personal-data EF (nor JPKI ``0001``, the sign certificate) is on it."""
    from jukicard.apdu.apps import App, all_applications, public_efs

    assert DEFAULT_PUBLIC_EFS == public_efs()
    assert (JPKI_AID, bytes.fromhex("0001")) not in DEFAULT_PUBLIC_EFS
    by_name = {app.name: app.aid for app in all_applications()}
    assert set(by_name) == set(PERSONAL_EFS) == {a.application.name for a in App}
    for name, fids in PERSONAL_EFS.items():
        for fid in fids:
            assert (by_name[name], fid.to_bytes(2, "big")) not in DEFAULT_PUBLIC_EFS
    for app in all_applications():
        assert not set(PERSONAL_EFS[app.name]) & app.public_efs, app.name


def test_personal_data_read_by_the_sessions_never_reaches_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """End to end on the emulated card: the sign certificate and every personal EF the
    sessions read are redacted, while a public EF (the auth certificate) is logged."""
    from jukicard.card import JpkiCert, JpkiSession, TextSession, VisualSession
    from jukicard.emulator import CardOS, load_profile

    caplog.set_level(TRAFFIC, logger=LOGGER)
    card = CardOS(load_profile("mynumber-01"))
    t = TracingTransport(LoopbackTransport(card), logging.getLogger(LOGGER))
    prof = card.profile
    pins = {(a.name, f.fid): f.value for a in prof.applications for f in a.files
            if hasattr(f, "value")}
    jpki = JpkiSession(t)
    auth_cert = jpki.read_certificate(JpkiCert.AUTH)
    jpki.read_certificate(JpkiCert.SIGN, pin=pins[("jpki", 0x1B)])
    TextSession(t).read_verified(pins[("text", 0x11)])
    VisualSession(t).read_entries(match_a=pins[("visual", 0x13)])
    log = text(caplog).replace(" ", "")
    assert auth_cert[8:40].hex().upper() in log  # public: logged
    for name, fids in PERSONAL_EFS.items():
        if name not in ("jpki", "text", "visual"):
            continue
        for fid in fids:
            data = getattr(prof.application(name).file(fid), "data", b"")
            if len(data) >= 16:
                assert data[4:20].hex().upper() not in log, (name, hex(fid))
    for value in pins.values():
        assert value.encode().hex().upper() not in log
