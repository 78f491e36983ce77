"""``readers`` and ``watch`` with injected sources (no PC/SC)."""

from __future__ import annotations

import json

import pytest

from jukicard.cli import reader as reader_cli
from jukicard.cli.main import main
from jukicard.errors import CardRemovedError, ReaderUnavailableError
from jukicard.services.readers import (
    CardIdentity,
    ReaderInfo,
    WatchReport,
    reader_infos,
    watch_cards,
)
from jukicard.transport.events import CardInserted, CardRemoved, ReaderAdded, ReaderRemoved

ATR = bytes.fromhex("3BE000FF8131FE4514")
EVENTS = [
    ReaderAdded("R1"),
    CardInserted("R1", ATR),
    CardRemoved("R1"),
    CardInserted("R1", b"\x3b\x00"),
    ReaderRemoved("R1"),
]


def _identify(reader: str) -> CardIdentity:
    return CardIdentity("mynumber", ("jpki", "text", "visual"), "JPKIAPICCTOKEN2")


# --------------------------------------------------------------------------- service
def test_watch_cards_identifies_inserted_cards() -> None:
    seen: list[str] = []

    def identify(reader: str) -> CardIdentity:
        seen.append(reader)
        if len(seen) == 2:
            raise CardRemovedError("card removed before it could be identified")
        return _identify(reader)

    reports = list(watch_cards(EVENTS, identify=identify))
    assert [r.event for r in reports] == [
        "reader-added", "card-inserted", "card-removed", "card-inserted", "reader-removed"]
    assert seen == ["R1", "R1"]
    assert reports[1].identity == _identify("R1") and reports[1].atr == ATR
    assert reports[3].identity is None and "removed" in (reports[3].error or "")
    assert reports[1].to_json()["card_type"] == "mynumber"
    assert reports[3].to_json()["error"]


def test_watch_cards_without_identification() -> None:
    reports = list(watch_cards([CardInserted("R", ATR)], identify=None))
    assert reports == [WatchReport("card-inserted", "R", ATR)]


def test_watch_cards_rejects_foreign_objects() -> None:
    with pytest.raises(TypeError):
        list(watch_cards(["not an event"], identify=None))  # type: ignore[list-item]


def test_reader_infos_merges_presence() -> None:
    infos = reader_infos(lambda: ["A", "B"], lambda: [ReaderAdded("A"), ReaderAdded("B"),
                                                     CardInserted("B", ATR)])
    assert infos == [ReaderInfo(0, "A", False, None), ReaderInfo(1, "B", True, ATR)]


def test_reader_infos_presence_unknown_when_states_fail() -> None:
    def broken() -> list[object]:
        raise ReaderUnavailableError("service gone")

    infos = reader_infos(lambda: ["A"], broken)  # type: ignore[arg-type]
    assert infos == [ReaderInfo(0, "A", None, None)]


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def fake_watch(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    timeouts: list[float | None] = []

    def source(timeout: float | None) -> object:
        timeouts.append(timeout)
        return watch_cards(EVENTS, identify=_identify)

    monkeypatch.setattr(reader_cli, "WATCH_SOURCE", source)
    return timeouts


def test_cli_watch_text(fake_watch: list[float | None], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "--timeout", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert fake_watch == [3.0]
    assert len(lines) == 5
    assert lines[1].startswith("card-inserted") and "mynumber (jpki, text, visual)" in lines[1]
    assert "JPKIAPICCTOKEN2" in lines[1] and "3BE000FF8131FE4514" in lines[1]
    assert lines[4].startswith("reader-removed")


def test_cli_watch_json_lines(fake_watch: list[float | None],
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "--json"]) == 0
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["event"] for o in objs] == [
        "reader-added", "card-inserted", "card-removed", "card-inserted", "reader-removed"]
    assert objs[1]["applications"] == ["jpki", "text", "visual"]
    assert fake_watch == [None]


def test_cli_watch_negative_timeout(fake_watch: list[float | None]) -> None:
    assert main(["watch", "--timeout", "-1"]) == 2
    assert fake_watch == []


def test_cli_watch_service_down(monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    def source(timeout: float | None) -> object:
        raise ReaderUnavailableError("SCardEstablishContext failed: SCARD_E_NO_SERVICE")

    monkeypatch.setattr(reader_cli, "WATCH_SOURCE", source)
    assert main(["watch"]) == 6
    assert "NO_SERVICE" in capsys.readouterr().err


def test_cli_readers(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    infos = [ReaderInfo(0, "Reader A", True, ATR), ReaderInfo(1, "Reader B", False),
             ReaderInfo(2, "Reader C", None)]
    monkeypatch.setattr(reader_cli, "READERS_SOURCE", lambda: infos)
    assert main(["readers"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "0: Reader A  (card present, ATR 3B E0 00 FF 81 31 FE 45 14)",
        "1: Reader B  (no card)",
        "2: Reader C  (card: unknown)",
    ]
    assert main(["readers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["readers"][0] == {"index": 0, "name": "Reader A", "card_present": True,
                                  "atr": "3BE000FF8131FE4514"}


def test_cli_readers_none(monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(reader_cli, "READERS_SOURCE", lambda: [])
    assert main(["readers"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no reader" in captured.err
