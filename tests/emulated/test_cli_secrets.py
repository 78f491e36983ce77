"""PINs never appear in stdout, stderr or the log — not even at ``--log-level TRAFFIC`` —
and personal data appears only on the stdout of the command that asked for it."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest
from emulated_support import MakeCard, PinLedger, find_file, profile_json

from jukicard.cli.main import main
from jukicard.services import connect
from jukicard.transport.tracing import TRAFFIC

# Distinctive PIN values (set in a copy of the synthetic profile) so that a leak cannot hide
# behind a common string such as "1234".
AUTH = "8642"
TEXT = "9753"
SIGN = "QZX947"
NEW_AUTH = "7531"
MY_NUMBER = "201867807611"
NAME = "模擬　花子"


def _forms(secret: str) -> list[str]:
    raw = secret.encode("ascii")
    return [secret, raw.hex(), raw.hex().upper(), raw.hex(" ").upper(), raw.hex(" ")]


@pytest.fixture
def card(make_card: MakeCard, monkeypatch: pytest.MonkeyPatch) -> object:
    prof = profile_json("mynumber-01")
    find_file(prof, "jpki", "0018")["value"] = AUTH
    find_file(prof, "jpki", "001B")["value"] = SIGN
    find_file(prof, "text", "0011")["value"] = TEXT
    em = make_card(data=prof)
    monkeypatch.setattr(connect, "new_emulated_card", lambda profile=None: em.card)
    return em.card


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str],
         stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    rc = main(["--log-level", "TRAFFIC", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_no_pin_or_personal_data_leaks_at_traffic_level(
    card: object,
    pins: PinLedger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(TRAFFIC)
    doc = tmp_path / "doc"
    doc.write_bytes(b"data")
    runs = [
        (["card", "info", "--emulated"], ""),
        (["pin", "status", "--emulated"], ""),
        (["sign", str(doc), "--emulated", "--pin-stdin", "-o", str(tmp_path / "s")],
         pins.submit(SIGN) + "\n"),
        (["sign", str(doc), "--emulated", "--pin-stdin", "--key", "auth", "-o",
          str(tmp_path / "a")], pins.submit(AUTH) + "\n"),
        (["cert", "export", "sign", "--emulated", "--pin-stdin", "-o", str(tmp_path / "c")],
         pins.submit(SIGN) + "\n"),
        (["pin", "change", "auth", "--emulated", "--pin-stdin"],
         pins.submit(AUTH) + "\n" + NEW_AUTH + "\n"),
        # wrong PINs: the error message must not echo them either
        (["sign", str(doc), "--emulated", "--pin-stdin", "--key", "auth", "-o",
          str(tmp_path / "b")], pins.submit(AUTH) + "\n"),  # old PIN, now wrong
        (["mynumber", "--emulated", "--pin-stdin"], pins.submit(TEXT) + "\n"),
        (["basic-info", "--emulated", "--pin-stdin"], pins.submit(TEXT) + "\n"),
    ]
    outputs: list[tuple[list[str], int, str, str]] = []
    for argv, stdin in runs:
        rc, out, err = _run(monkeypatch, capsys, argv, stdin)
        outputs.append((argv, rc, out, err))
    assert [rc for _, rc, _, _ in outputs] == [0, 0, 0, 0, 0, 0, 3, 0, 0]

    log_text = "\n".join(r.getMessage() for r in caplog.records)
    # the log really traced the APDUs (else this test would prove nothing)
    assert any(r.levelno == TRAFFIC and r.getMessage().startswith("SEND") for r in caplog.records)
    assert "redacted" in log_text

    for secret in (AUTH, TEXT, SIGN, NEW_AUTH):
        for form in _forms(secret):
            assert form not in log_text, f"PIN leaked into the log ({form!r})"
            for argv, _rc, out, err in outputs:
                assert form not in err, f"PIN leaked on stderr of {argv}"
                assert form not in out, f"PIN leaked on stdout of {argv}"

    # personal data: only on the stdout of mynumber / basic-info
    for secret in (MY_NUMBER, NAME):
        for form in [secret, secret.encode("utf-8").hex(" ").upper()]:
            assert form not in log_text, "personal data leaked into the log"
    for argv, _rc, out, err in outputs:
        assert MY_NUMBER not in err and NAME not in err
        if argv[0] not in ("mynumber", "basic-info"):
            assert MY_NUMBER not in out and NAME not in out
    assert outputs[7][2].strip() == MY_NUMBER
    assert NAME in outputs[8][2]


def test_debug_log_of_a_failure_does_not_leak_the_pin(
    card: object,
    pins: PinLedger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(TRAFFIC)
    rc, out, err = _run(monkeypatch, capsys, ["mynumber", "--emulated", "--pin-stdin"],
                        pins.submit("1111") + "\n")
    assert rc == 3 and "2 tries left" in err
    text = caplog.text + "".join(
        logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info)
    assert "1111" not in text and "31 31 31 31" not in text and "1111" not in err
