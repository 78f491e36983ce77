"""The jukicard protocol (our own card–system mutual authentication and secure messaging;
NOT 住基ネット's) through the real stack: pyscard → pcscd → vpcd → emulator bridge, keys in
the run's SoftHSM2 token.  Each failure path ends in a typed error and a closed session;
the PIN ledger checks the one PIN sent (under secure messaging)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from softhsm_support import PROTOCOL_MASTER_LABEL, WRONG_MASTER_LABEL

from jukicard.card.mutual import KEY_INFO_EF, JukicardProtocolSession, KeyInfo
from jukicard.errors import (
    CardRemovedError,
    CardResetError,
    JukicardSecureMessagingError,
    JukicardSessionClosedError,
    MutualAuthenticationBlockedError,
    MutualAuthenticationError,
    TransportError,
)
from jukicard.keys import KeySession, TokenKey, TokenSettings
from jukicard.services.mutual import ProtocolSettings, mutual_authenticate
from jukicard.transport import pcsc
from jukicard.transport.base import DelegatingTransport

CARD_ID = "TESTJUKI00000001"
JUKI_PIN = "1234"  # synthetic test card juki-01 (vectors/cards/README.md)


class Wire(DelegatingTransport):
    """A man in the middle on the PC/SC connection (stands in for an attacker)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.on_command: Callable[[bytes], bytes] = lambda c: c
        self.on_response: Callable[[bytes, bytes, int], tuple[bytes, int]] = \
            lambda c, d, sw: (d, sw)
        self.log: list[tuple[bytes, bytes, int]] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        cmd = self.on_command(bytes(apdu))
        data, sw = self.inner.transmit(cmd)
        self.log.append((cmd, data, sw))
        return self.on_response(cmd, data, sw)


def _flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes((data[i] ^ 1,)) + data[i + 1:]


@pytest.fixture
def keys(softhsm_keys: KeySession) -> KeySession:
    return softhsm_keys


@pytest.fixture
def master(softhsm_keys: KeySession) -> TokenKey:
    return softhsm_keys.key(PROTOCOL_MASTER_LABEL)


@pytest.fixture
def juki(fresh_card: Callable[..., Any]) -> Iterator[tuple[Any, pcsc.PcscTransport]]:
    bridge = fresh_card("juki-01")
    t = pcsc.PcscTransport(bridge.reader, share="exclusive")
    try:
        yield bridge, t
    finally:
        try:
            t.close()
        except TransportError:
            pass


def test_good_run_and_protected_pin_and_read(juki: tuple[Any, pcsc.PcscTransport],
                                             keys: KeySession, master: TokenKey,
                                             pins: Any) -> None:
    _bridge, t = juki
    s = JukicardProtocolSession(t)
    s.authenticate(keys, master)
    assert s.read_resident_code(pins.submit(JUKI_PIN)).digits == "10565175097"
    assert KeyInfo.parse(s.read_ef(KEY_INFO_EF)).card_id == CARD_ID


def test_service(juki: tuple[Any, pcsc.PcscTransport], softhsm_token: TokenSettings) -> None:
    _bridge, t = juki
    assert mutual_authenticate(t, ProtocolSettings(softhsm_token)).card_id == CARD_ID


def test_wrong_master_then_blocked(juki: tuple[Any, pcsc.PcscTransport], keys: KeySession,
                                   master: TokenKey) -> None:
    _bridge, t = juki
    wrong = keys.key(WRONG_MASTER_LABEL)
    left = []
    for _ in range(3):
        with pytest.raises(MutualAuthenticationError) as err:
            JukicardProtocolSession(t).authenticate(keys, wrong)
        left.append(err.value.retries_left)
    assert left == [2, 1, 0]
    with pytest.raises(MutualAuthenticationBlockedError):
        JukicardProtocolSession(t).authenticate(keys, master)


def test_tampered_cryptogram_and_answer(juki: tuple[Any, pcsc.PcscTransport], keys: KeySession,
                                        master: TokenKey) -> None:
    _bridge, t = juki
    wire = Wire(t)
    wire.on_command = lambda c: _flip(c, 9) if c[1] == 0x82 else c
    s = JukicardProtocolSession(wire)
    with pytest.raises(MutualAuthenticationError) as err:
        s.authenticate(keys, master)
    assert err.value.retries_left == 2 and s.state == "closed"
    wire.on_command = lambda c: c
    wire.on_response = lambda c, d, sw: (_flip(d, 60) if c[1] == 0x82 else d, sw)
    s = JukicardProtocolSession(wire)
    with pytest.raises(MutualAuthenticationError, match="did not prove"):
        s.authenticate(keys, master)


def test_replayed_answer(juki: tuple[Any, pcsc.PcscTransport], keys: KeySession,
                         master: TokenKey) -> None:
    _bridge, t = juki
    wire = Wire(t)
    JukicardProtocolSession(wire).authenticate(keys, master)
    old = next(d for c, d, _ in wire.log if c[1] == 0x82)
    wire.on_response = lambda c, d, sw: (old if c[1] == 0x82 else d, sw)
    with pytest.raises(MutualAuthenticationError, match="replayed"):
        JukicardProtocolSession(wire).authenticate(keys, master)


def test_wrong_mac_and_counter_skip(juki: tuple[Any, pcsc.PcscTransport], keys: KeySession,
                                    master: TokenKey) -> None:
    _bridge, t = juki
    wire = Wire(t)
    s = JukicardProtocolSession(wire)
    s.authenticate(keys, master)
    wire.on_response = lambda c, d, sw: (_flip(d, len(d) - 1) if c[0] == 0x0C else d, sw)
    with pytest.raises(JukicardSecureMessagingError, match="wrong MAC"):
        s.read_ef(KEY_INFO_EF)
    with pytest.raises(JukicardSessionClosedError):
        s.read_ef(KEY_INFO_EF)
    wire.on_response = lambda c, d, sw: (d, sw)
    s = JukicardProtocolSession(wire)
    s.authenticate(keys, master)
    assert s._sm is not None
    s._sm._ssc += 2  # skip (white box)
    with pytest.raises(JukicardSecureMessagingError) as err:
        s.read_ef(KEY_INFO_EF)
    assert err.value.sw == 0x6988


def test_removal_and_reset_mid_session(juki: tuple[Any, pcsc.PcscTransport], keys: KeySession,
                                       master: TokenKey) -> None:
    bridge, t = juki
    s = JukicardProtocolSession(t)
    s.authenticate(keys, master)
    bridge.remove()
    with pytest.raises((CardRemovedError, TransportError)):
        s.read_ef(KEY_INFO_EF)
    assert s.state == "closed"
    bridge.insert()
    t.reconnect()
    s = JukicardProtocolSession(t)  # the next session starts clean
    s.authenticate(keys, master)
    t.reconnect(reset=True)
    with pytest.raises((JukicardSessionClosedError, CardResetError, JukicardSecureMessagingError)):
        s.read_ef(KEY_INFO_EF)
    assert s.state == "closed"
    fresh = JukicardProtocolSession(t)
    fresh.authenticate(keys, master)
    assert fresh.authenticated
