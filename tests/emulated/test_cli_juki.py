"""``jukicard juki authenticate`` (the jukicard protocol, our own; not 住基ネット's) against
the in-process emulated 住基カード, keys in the run's SoftHSM2 token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from softhsm_support import LABEL, PIN, PIN_ENV, WRONG_MASTER_LABEL

from jukicard.cli.main import main
from jukicard.keys import TokenSettings
from jukicard.testing.pkigen.protocolkeys import PROTOCOL_CARD_IDS

BASE = ["juki", "authenticate", "--profile", "juki-01", "--json", "--token-label", LABEL,
        "--token-pin-env", PIN_ENV]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    rc = main([*args])
    captured = capsys.readouterr()
    return rc, json.loads(captured.out), captured.err


def test_good_run_json(softhsm_token: TokenSettings, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _err = _run(capsys, *BASE)
    assert rc == 0
    assert out["result"] == "mutually-authenticated"
    assert out["card_id"] == PROTOCOL_CARD_IDS["juki1"]
    assert out["secure_messaging_check"] == "ok" and "not 住基ネット" in str(out["protocol"])


def test_token_settings_from_the_environment(softhsm_token: TokenSettings,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JUKICARD_PKCS11_TOKEN", LABEL)
    monkeypatch.setenv("JUKICARD_PKCS11_PIN", PIN)
    rc, out, _ = _run(capsys, "juki", "authenticate", "--profile", "juki-01", "--json")
    assert rc == 0 and out["token_label"] == LABEL


def test_pin_file(softhsm_token: TokenSettings, tmp_path: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pin").write_text(PIN + "\n", encoding="utf-8")
    rc, out, _ = _run(capsys, "juki", "authenticate", "--profile", "juki-01", "--json",
                      "--token-label", LABEL, "--token-pin-file", str(tmp_path / "pin"))
    assert rc == 0


def test_wrong_master_is_a_typed_card_refusal(softhsm_token: TokenSettings,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, *BASE, "--master-label", WRONG_MASTER_LABEL)
    err = out["error"]
    assert rc == 4 and isinstance(err, dict)
    assert err["type"] == "MutualAuthenticationError" and err["retries_left"] == 2
    assert err["sw"] == "63C2"


def test_wrong_token_pin(softhsm_token: TokenSettings, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(PIN_ENV, "000000")
    rc, out, err = _run(capsys, *BASE)
    assert rc == 6 and out["error"]["type"] == "KeyStorePinIncorrectError"  # type: ignore[index]
    assert "000000" not in json.dumps(out) + err


def test_no_token_configured_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("JUKICARD_PKCS11_TOKEN", raising=False)
    rc, out, _ = _run(capsys, "juki", "authenticate", "--profile", "juki-01", "--json")
    assert rc == 2 and out["error"]["type"] == "UsageError"  # type: ignore[index]
