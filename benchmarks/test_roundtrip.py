"""APDU round trips: in-process (CardOS, LoopbackTransport) and through pcscd + vpcd.

``python3 -m pytest benchmarks --benchmark-only``.  The same APDUs are sent on every layer,
after ``SELECT JPKI AP`` and ``SELECT EF 000A`` (auth certificate):

* ``SELECT EF 000A``      ``00 A4 02 0C 02 00 0A``      → ``90 00``
* ``READ BINARY 255 B``   ``00 B0 00 00 FF``            → 255 bytes + ``90 00``
* ``READ BINARY ext``     ``00 B0 00 00 00 08 00``      → the whole EF (≤ 2048 B) + ``90 00``

Results are reported as ratios against the baselines of the same run (see conftest.py);
nothing here asserts on time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SELECT_AUTH_CERT = bytes.fromhex("00A4020C02000A")

APDUS = {
    "SELECT EF 000A": SELECT_AUTH_CERT,
    "READ BINARY 255 B": bytes.fromhex("00B00000FF"),
    "READ BINARY ext": bytes.fromhex("00B00000000800"),
}
APDU_IDS = list(APDUS)


def _noop() -> None:
    return None


def _check(response: tuple[bytes, int] | bytes) -> None:
    sw = response[1] if isinstance(response, tuple) else int.from_bytes(response[-2:], "big")
    assert sw == 0x9000, f"SW {sw:04X}"


def _prepare(send: Callable[[bytes], Any]) -> None:
    _check(send(SELECT_JPKI))
    _check(send(SELECT_AUTH_CERT))


def test_baseline_trivial_call(measure: Callable[..., Any]) -> None:
    measure("baseline: trivial Python call", "", _noop, baseline="call")


@pytest.mark.parametrize("apdu", APDU_IDS)
def test_cardos_execute(measure: Callable[..., Any], cardos: Any, apdu: str) -> None:
    _prepare(cardos.execute)
    response = measure(
        "baseline: CardOS.execute", apdu, cardos.execute, APDUS[apdu], baseline="execute"
    )
    _check(response)


@pytest.mark.parametrize("apdu", APDU_IDS)
def test_loopback_transport(measure: Callable[..., Any], cardos: Any, apdu: str) -> None:
    from jukicard.transport.loopback import LoopbackTransport

    transport = LoopbackTransport(cardos)
    _prepare(transport.transmit)
    _check(measure("LoopbackTransport + CardOS", apdu, transport.transmit, APDUS[apdu]))


@pytest.mark.parametrize("apdu", APDU_IDS)
def test_pcsc_vpcd(measure: Callable[..., Any], vpcd_bridge: Any, apdu: str) -> None:
    from jukicard.transport import pcsc

    transport = pcsc.PcscTransport(vpcd_bridge.reader, share="exclusive")
    try:
        _prepare(transport.transmit)
        _check(measure("PcscTransport → pcscd → vpcd", apdu, transport.transmit, APDUS[apdu]))
    finally:
        transport.close()
