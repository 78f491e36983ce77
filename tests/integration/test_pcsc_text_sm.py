"""Text-AP secure messaging (issue 11 part A) through the real stack: pyscard → pcscd →
vpcd → emulator bridge.  The good run and the failure paths of
``tests/emulated/test_text_sm.py`` that cross the wire: wrong key (6A80), no PIN (6982),
a tampered and a replayed response, a counter skip (6988, then the host refuses), card
removal and reset mid-session (the next session starts clean).  Every test runs on a fresh
copy of the profile under the PIN ledger."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu.apps import TextEf, TextPin
from jukicard.apdu.command import CommandApdu, ResponseApdu
from jukicard.card.text import TextSession
from jukicard.card.textsm import SessionKeyPublicKey, TextSecureMessaging
from jukicard.errors import (
    CardRemovedError,
    CardResetError,
    SecurityStatusError,
    TextSmClosedError,
    TextSmDestroyedError,
    TextSmKeyRejectedError,
    TextSmResponseError,
    TransportError,
)
from jukicard.transport import pcsc

PinLedger = Any  # conftest.PinLedger (the ``pins`` fixture)
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

PROFILE = "mynumber-01"
PIN = "1234"
MY_NUMBER = "201867807611"  # mynumber-01 (vectors/cards/README.md), synthetic
SEED = bytes(range(0x40, 0x60))


def _close(t: pcsc.PcscTransport) -> None:
    try:
        t.close()
    except TransportError:
        pass


@pytest.fixture
def fresh(fresh_card: Callable[..., Any]) -> Iterator[tuple[Any, pcsc.PcscTransport]]:
    b = fresh_card(PROFILE)
    t = pcsc.PcscTransport(b.reader, share="exclusive")
    try:
        yield b, t
    finally:
        _close(t)


def _intercept(text: TextSession,
               mutate: Callable[[CommandApdu, ResponseApdu], ResponseApdu]) -> None:
    real = text._send
    text._send = lambda cmd: mutate(cmd, real(cmd))  # type: ignore[method-assign]


def test_good_run_equals_plain(fresh: tuple[Any, pcsc.PcscTransport], pins: PinLedger) -> None:
    _b, t = fresh
    text = TextSession(t)
    number = text.read_my_number_sm(pins.submit(PIN))
    info = text.read_basic_info_sm(pins.submit(PIN))
    assert number.digits == MY_NUMBER
    assert number == text.read_my_number(pin=pins.submit(PIN))
    assert info == text.read_basic_info(pin=pins.submit(PIN))
    with text.secure_messaging(pins.submit(PIN)) as sm:
        sm.verify(TextPin.MATCH_A, pins.submit(MY_NUMBER))
        assert sm.read_ef(TextEf.MY_NUMBER, 0xFF10)[3:15].decode() == MY_NUMBER
        assert sm.processor.counter == 3


def test_wrong_key_6a80(fresh_card: Callable[..., Any], tmp_path: Path,
                        pins: PinLedger) -> None:
    bridge = fresh_card(PROFILE)
    data = json.loads((ROOT / "vectors/cards" / f"{PROFILE}.json").read_text(encoding="utf-8"))
    card_n = int.from_bytes(next(
        bytes.fromhex(f["data"]) for app in data["applications"] if app["name"] == "text"
        for f in app["files"] if f["fid"] == "0006")[-256:], "big")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    while other.public_key().public_numbers().n >= card_n:  # else the answer may be 6F00
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for app in data["applications"]:
        for f in app["files"] if app["name"] == "text" else ():
            if f["fid"] == "0006":
                f["data"] = bytes(SessionKeyPublicKey.of(other.public_key())).hex().upper()
    copy = tmp_path / "wrong-key.json"
    copy.write_text(json.dumps(data), encoding="utf-8")
    bridge.swap(copy, tmp_path / "wk.log", tmp_path / "wk-stats.json")
    pins.baselines.clear()
    pins.watch(bridge)
    t = pcsc.PcscTransport(bridge.reader, share="exclusive")
    try:
        with pytest.raises(TextSmKeyRejectedError) as err:
            TextSession(t).read_my_number_sm(pins.submit(PIN))
        assert err.value.sw == 0x6A80
    finally:
        _close(t)


def test_no_pin_6982(fresh: tuple[Any, pcsc.PcscTransport], pins: PinLedger) -> None:
    bridge, t = fresh
    text = TextSession(t)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(SecurityStatusError):
        TextSecureMessaging.establish(text.channel.send, other, SEED)
    assert bridge.stats()["verify_with_data"] == 0


def test_tampered_and_replayed(fresh: tuple[Any, pcsc.PcscTransport], pins: PinLedger) -> None:
    _b, t = fresh
    text = TextSession(t)
    first: list[ResponseApdu] = []

    def replay(cmd: CommandApdu, resp: ResponseApdu) -> ResponseApdu:
        if cmd.cla == 0x08 and cmd.ins == 0xB0:
            first.append(resp)
            return first[0]
        return resp

    _intercept(text, replay)
    with text.secure_messaging(pins.submit(PIN)) as sm:
        sm.read_ef(TextEf.MY_NUMBER, 0xFF10)
        with pytest.raises(TextSmResponseError):
            sm.read_ef(TextEf.MY_NUMBER, 0xFF10)
        with pytest.raises(TextSmClosedError):
            sm.select_ef(TextEf.MY_NUMBER)

    def flip(cmd: CommandApdu, resp: ResponseApdu) -> ResponseApdu:
        if cmd.cla == 0x08 and cmd.ins == 0xB0:
            return ResponseApdu(resp.data[:-1] + bytes((resp.data[-1] ^ 1,)), resp.sw)
        return resp

    text2 = TextSession(t)
    _intercept(text2, flip)
    with pytest.raises(TextSmResponseError):
        text2.read_my_number_sm(pins.submit(PIN))


def test_counter_skip(fresh: tuple[Any, pcsc.PcscTransport], pins: PinLedger) -> None:
    _b, t = fresh
    text = TextSession(t)
    real = text._send
    dropped: list[CommandApdu] = []

    def send(cmd: CommandApdu) -> ResponseApdu:
        if cmd.cla == 0x08 and not dropped:
            dropped.append(cmd)
            return ResponseApdu(b"", 0x6A82)
        return real(cmd)

    text._send = send  # type: ignore[method-assign]
    with text.secure_messaging(pins.submit(PIN), rng=lambda n: SEED) as sm:
        with pytest.raises(Exception):  # noqa: B017 - the forged 6A82
            sm.select_ef(TextEf.MY_NUMBER)
        with pytest.raises(TextSmDestroyedError) as err:
            sm.select_ef(TextEf.MY_NUMBER)
        assert err.value.sw == 0x6988
    text._send = real  # type: ignore[method-assign]
    assert text.read_my_number_sm(pins.submit(PIN)).digits == MY_NUMBER


def test_removal_mid_session(fresh: tuple[Any, pcsc.PcscTransport], pins: PinLedger) -> None:
    """The card is pulled and put back inside the session (a power cycle: the card's half
    is gone): a typed error, the host half refuses, the next session starts clean."""
    bridge, t = fresh
    text = TextSession(t)
    with pytest.raises((CardRemovedError, CardResetError, TextSmDestroyedError)):
        with text.secure_messaging(pins.submit(PIN)) as sm:
            sm.select_ef(TextEf.MY_NUMBER)
            bridge.remove()
            bridge.insert()
            sm.read_ef(TextEf.MY_NUMBER, 0xFF10)
    assert not sm.usable and text.verified == frozenset()
    t.reconnect()
    assert TextSession(t).read_my_number_sm(pins.submit(PIN)).digits == MY_NUMBER
