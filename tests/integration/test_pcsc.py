"""pyscard → pcscd → vpcd → emulator bridge, through :mod:`jukicard.transport.pcsc`."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu.command import CommandApdu
from jukicard.errors import CardRemovedError, TransportError
from jukicard.transport import pcsc, pcsc_watch
from jukicard.transport.events import CardInserted, CardRemoved, Event, ReaderAdded

pytestmark = pytest.mark.integration

stack_card_present = sys.modules["jukicard_it_stack"].card_present  # loaded by conftest.py

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SELECT_AUTH_CERT = bytes.fromhex("00A4020C02000A")
SELECT_UNKNOWN_AID = bytes.fromhex("00A4040006D27600012401")  # OpenPGP: not on this card
SW_OK = 0x9000


@pytest.fixture
def transport(card: Any) -> Iterator[Any]:
    t = pcsc.PcscTransport(card.reader, share="exclusive")
    try:
        yield t
    finally:
        t.close()


def _ok(t: Any, apdu: bytes) -> bytes:
    data, sw = t.transmit(apdu)
    assert sw == SW_OK, f"{apdu.hex()} -> {sw:04X}"
    return data


def _read_ef_short(t: Any) -> bytes:
    """Read the selected EF in 256-byte short READ BINARYs until EOF (short chunk / 6B00)."""
    out = b""
    while True:
        apdu = CommandApdu(0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, le=256).encode()
        assert len(apdu) == 5  # really a short APDU
        data, sw = t.transmit(apdu)
        if sw == 0x6B00:
            return out
        assert sw == SW_OK, f"READ BINARY at {len(out)} -> {sw:04X}"
        out += data
        if len(data) < 256:
            return out


# --------------------------------------------------------------------------- readers
def test_list_readers_shows_both_vpcd_slots(vpcd_stack: tuple[str, ...]) -> None:
    names = pcsc.list_readers()
    assert "Virtual PCD 00 00" in names
    assert "Virtual PCD 00 01" in names


def test_connect_reports_the_profile_atr(transport: Any, card_profile: dict[str, Any]) -> None:
    assert bytes(transport.atr) == bytes.fromhex(card_profile["atr"])


def test_connection_is_exclusive(card: Any) -> None:
    from smartcard import scard

    def shared_connect() -> int:
        rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        assert rc == scard.SCARD_S_SUCCESS
        try:
            rc, handle, _proto = scard.SCardConnect(
                ctx, card.reader, scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            if rc == scard.SCARD_S_SUCCESS:
                scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
            return int(rc)
        finally:
            scard.SCardReleaseContext(ctx)

    t = pcsc.PcscTransport(card.reader, share="exclusive")
    try:
        assert t.share_mode == "exclusive"
        _ok(t, SELECT_JPKI)
        assert shared_connect() == scard.SCARD_E_SHARING_VIOLATION
    finally:
        t.close()
    assert shared_connect() == scard.SCARD_S_SUCCESS


# --------------------------------------------------------------------------- APDUs
def test_select_jpki_ap(transport: Any) -> None:
    data, sw = transport.transmit(SELECT_JPKI)
    assert (data, sw) == (b"", SW_OK)


def test_unknown_aid_is_6a82(transport: Any) -> None:
    data, sw = transport.transmit(SELECT_UNKNOWN_AID)
    assert (data, sw) == (b"", 0x6A82)


def test_read_auth_cert_in_short_chunks(transport: Any, auth_cert_der: bytes) -> None:
    _ok(transport, SELECT_JPKI)
    _ok(transport, SELECT_AUTH_CERT)
    header = _ok(transport, bytes.fromhex("00B0000004"))
    assert header[:2] == b"\x30\x82"
    total = 4 + int.from_bytes(header[2:4], "big")
    ef = _read_ef_short(transport)
    assert len(ef) > 512  # several chunks were needed
    assert ef == auth_cert_der
    cert = x509.load_der_x509_certificate(ef[:total])
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048


def test_read_auth_cert_in_one_extended_read(transport: Any, auth_cert_der: bytes) -> None:
    _ok(transport, SELECT_JPKI)
    _ok(transport, SELECT_AUTH_CERT)
    apdu = CommandApdu(0x00, 0xB0, 0, 0, le=len(auth_cert_der), extended=True).encode()
    assert len(apdu) == 7  # 00 B0 00 00 00 LL LL
    data = _ok(transport, apdu)
    assert data == auth_cert_der
    x509.load_der_x509_certificate(data[: 4 + int.from_bytes(data[2:4], "big")])


def test_transaction_context(transport: Any, auth_cert_der: bytes) -> None:
    with transport.transaction():
        _ok(transport, SELECT_JPKI)
        with transport.transaction():  # re-entrant
            _ok(transport, SELECT_AUTH_CERT)
        header = _ok(transport, bytes.fromhex("00B0000004"))
    assert header == auth_cert_der[:4]
    # the transaction is over and the connection still works
    with transport.transaction():
        _ok(transport, SELECT_JPKI)


# --------------------------------------------------------------------------- removal
def test_card_removal_then_reinsertion(card: Any, auth_cert_der: bytes) -> None:
    t = pcsc.PcscTransport(card.reader, share="exclusive")
    try:
        _ok(t, SELECT_JPKI)
        generation = t.generation
        card.remove()
        with pytest.raises(CardRemovedError):
            t.transmit(SELECT_JPKI)
        with pytest.raises(CardRemovedError):  # and it stays removed
            t.transmit(SELECT_JPKI)
        card.insert()
        # the same transport object connects again; all card state is gone
        t.reconnect()
        assert t.generation > generation
        _ok(t, SELECT_JPKI)
        _ok(t, SELECT_AUTH_CERT)
        assert _ok(t, bytes.fromhex("00B0000004")) == auth_cert_der[:4]
    finally:
        try:
            t.close()
        except TransportError:
            pass
        if card.removed:
            card.insert()
    # and a new connection works too
    t = pcsc.PcscTransport(card.reader, share="exclusive")
    try:
        _ok(t, SELECT_JPKI)
    finally:
        t.close()


def test_no_card_in_the_other_slot(card: Any) -> None:
    other = "Virtual PCD 00 01" if card.slot == 0 else "Virtual PCD 00 00"
    if stack_card_present(other):
        pytest.skip(f"another emulator holds {other}")
    with pytest.raises(CardRemovedError):
        pcsc.PcscTransport(other, share="exclusive")


# --------------------------------------------------------------------------- events
EVENT_WAIT = 30.0  # generous bound on each wait, never asserted on


def _next_for(events: queue.Queue[Event | BaseException], reader: str) -> Event:
    """The next event about *reader* (events about other slots are skipped)."""
    while True:
        item = events.get(timeout=EVENT_WAIT)
        if isinstance(item, BaseException):
            raise item
        name = item.name if isinstance(item, ReaderAdded) else getattr(item, "reader", "")
        if name == reader:
            return item


def test_watch_reports_removal_and_insertion(card: Any, card_profile: dict[str, Any]) -> None:
    """pcsc_watch.watch through pcscd + vpcd: the reader and card already there, then the card
    pulled out and put back, as typed events."""
    events: queue.Queue[Event | BaseException] = queue.Queue()
    stop = threading.Event()

    def run() -> None:
        try:
            for event in pcsc_watch.watch(stop=stop, initial=True, poll_interval=0.2):
                events.put(event)
        except BaseException as exc:  # reported to the test thread
            events.put(exc)

    worker = threading.Thread(target=run, name="watch", daemon=True)
    worker.start()
    try:
        assert _next_for(events, card.reader) == ReaderAdded(card.reader)
        atr = bytes.fromhex(card_profile["atr"])
        assert _next_for(events, card.reader) == CardInserted(card.reader, atr)
        card.remove()
        assert _next_for(events, card.reader) == CardRemoved(card.reader)
        card.insert()
        assert _next_for(events, card.reader) == CardInserted(card.reader, atr)
    finally:
        stop.set()
        worker.join(EVENT_WAIT)
        if card.removed:
            card.insert()
    assert not worker.is_alive()
