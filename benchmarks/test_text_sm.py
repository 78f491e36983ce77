"""Text-AP secure messaging (issue 11 part A) against the plain read of the same data, in
process (LoopbackTransport + CardOS) and through pcscd + vpcd.

Two groups, each with the in-process plain read of the same run as its baseline
(``baseline="execute"``: the last column of the summary is "/ in-process plain"):

* ``My Number op`` — one whole operation: ``read_my_number(pin=...)`` (SELECT AP, VERIFY,
  SELECT EF, READ) against ``read_my_number_sm(pin)`` (the same VERIFY, EF 0006 read,
  RSA-OAEP + SET SESSION KEY — the card's RSA private operation — then SELECT and READ
  under SM).
* ``My Number EF, session open`` — SELECT + READ of EF 0001 alone: plain against under SM
  (AES per command and response).

Nothing asserts on time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jukicard.apdu.apps import TextEf
from jukicard.card.text import TextSession

PIN = "1234"  # mynumber-01 (vectors/cards/README.md), synthetic
OP = "My Number op"
EF = "My Number EF, session open"


@pytest.fixture
def loopback(cardos: Any) -> Iterator[Any]:
    from jukicard.transport.loopback import LoopbackTransport

    t = LoopbackTransport(cardos)
    yield t
    t.close()


@pytest.fixture
def vpcd(vpcd_bridge: Any) -> Iterator[Any]:
    from jukicard.transport import pcsc

    t = pcsc.PcscTransport(vpcd_bridge.reader, share="exclusive")
    try:
        yield t
    finally:
        t.close()


def _plain_op(text: TextSession) -> str:
    return text.read_my_number(pin=PIN).digits


def _sm_op(text: TextSession) -> str:
    return text.read_my_number_sm(PIN).digits


def _plain_ef(text: TextSession) -> bytes:
    text._select_ef(TextEf.MY_NUMBER)
    return text._read_whole("My Number EF", limit=256)


def _run(measure: Callable[..., Any], layer: str, transport: Any, which: str) -> None:
    text = TextSession(transport)
    base = "execute" if layer == "in-process" else None  # ratios against in-process plain
    if which == "op-plain":
        measure(f"{layer}, plain", OP, _plain_op, text, baseline=base)
    elif which == "op-sm":
        measure(f"{layer}, secure messaging", OP, _sm_op, text)
    elif which == "ef-plain":
        with text.secure_messaging(PIN):  # same card state: PIN verified, session open
            measure(f"{layer}, plain", EF, _plain_ef, text, baseline=base)
    else:
        with text.secure_messaging(PIN) as sm:
            measure(f"{layer}, secure messaging", EF, sm.read_ef, TextEf.MY_NUMBER, 0xFF10)


WHICH = ["op-plain", "op-sm", "ef-plain", "ef-sm"]


@pytest.mark.parametrize("which", WHICH)
def test_text_sm_in_process(measure: Callable[..., Any], loopback: Any, which: str) -> None:
    _run(measure, "in-process", loopback, which)


@pytest.mark.parametrize("which", WHICH)
def test_text_sm_vpcd(measure: Callable[..., Any], vpcd: Any, which: str) -> None:
    _run(measure, "pcscd + vpcd", vpcd, which)
