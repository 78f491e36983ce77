"""Replay the golden APDU transcripts (vectors/apdu/*.json) against a scripted card."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from record_transcripts import FORMAT, OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = sorted((ROOT / "vectors" / "apdu").glob("*.json"))


class Divergence(AssertionError):
    """The library sent something other than the transcript says."""


class ReplayTransport:
    """A Transport that answers from a transcript and fails on any divergence."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.exchanges = [(bytes.fromhex(e["command"]), bytes.fromhex(e["response"]))
                          for e in doc["exchanges"]]
        self.position = 0
        self._atr = bytes.fromhex(doc["atr"])
        self.depth = 0
        self.outside_transaction = 0

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def generation(self) -> int:
        return 1

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self.position >= len(self.exchanges):
            raise Divergence(f"extra APDU #{self.position + 1}: {apdu.hex().upper()}")
        expected, response = self.exchanges[self.position]
        if bytes(apdu) != expected:
            raise Divergence(f"APDU #{self.position + 1}: sent {bytes(apdu).hex().upper()}, "
                             f"transcript has {expected.hex().upper()}")
        self.position += 1
        if self.depth == 0:
            self.outside_transaction += 1
        return response[:-2], int.from_bytes(response[-2:], "big")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def close(self) -> None:
        pass

    def __enter__(self) -> ReplayTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def assert_done(self) -> None:
        if self.position != len(self.exchanges):
            raise Divergence(f"only {self.position} of {len(self.exchanges)} APDUs were sent")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_transcripts_exist() -> None:
    names = {p.stem for p in TRANSCRIPTS}
    assert {"card-info", "pin-status", "read-certificate", "sign"} <= names
    assert names == set(OPERATIONS), "re-record: python tests/emulated/record_transcripts.py"


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_replay(path: Path) -> None:
    doc = _load(path)
    assert doc["format"] == FORMAT
    transport = ReplayTransport(doc)
    result = OPERATIONS[doc["name"]].run(transport)
    transport.assert_done()
    assert result == doc["result"]
    assert transport.outside_transaction == 0


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_replay_detects_divergence(path: Path) -> None:
    """The replay card really checks: alter one recorded command and the replay fails."""
    doc = _load(path)
    last = doc["exchanges"][-1]
    last["command"] = last["command"][:-2] + ("00" if last["command"][-2:] != "00" else "01")
    with pytest.raises(Divergence):
        OPERATIONS[doc["name"]].run(ReplayTransport(doc))


def test_replay_detects_missing_apdus() -> None:
    doc = _load(ROOT / "vectors" / "apdu" / "pin-status.json")
    doc["exchanges"].append(doc["exchanges"][0])
    transport = ReplayTransport(doc)
    OPERATIONS["pin-status"].run(transport)
    with pytest.raises(Divergence):
        transport.assert_done()
