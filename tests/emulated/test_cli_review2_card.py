"""Second independent review of issue 8, the findings with a card behind them: the
impossible retry counter as staff see it (1), ``--issuer-key`` (4), unknown ids (7) and the
fail-closed configuration (7).  Each test fails on ``main`` before the fix (its docstring
says how); the PIN ledger of ``conftest.py`` checks that no PIN is spent where none should.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from emulated_support import PINS, Emulated, PinLedger, find_file, profile_json
from test_cli_compat import _pcsc_down, runner

from jukicard.card.crypto import HashAlg
from jukicard.errors import UsageError
from jukicard.services import ScriptedInteraction, connect, export_certificate, load_issuer_key
from jukicard.services.data import read_verified

ROOT = Path(__file__).resolve().parents[2]
CV = ROOT / "vectors" / "pki" / "cv"
#: The reviewer's ``/tmp/r2/unk.pem``: a PEM public key of algorithm OID 1.2.3.4.
UNKNOWN_ALGORITHM_PEM = (b"-----BEGIN PUBLIC KEY-----\nMAswBQYDKgMEAwIAAQ==\n"
                         b"-----END PUBLIC KEY-----\n")
SECRET = "918273"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Any:
    return runner(monkeypatch, capsys, tmp_path)


def _hitries(tmp_path: Path) -> str:
    """mynumber-01 with its 3-try auth PIN stored with 15 tries: the card answers 63CF."""
    prof = profile_json("mynumber-01")
    entry = find_file(prof, "jpki", "0018")
    entry["max_tries"] = entry["tries_left"] = 15
    path = tmp_path / "hitries.json"
    path.write_text(json.dumps(prof), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- finding 1
def test_pin_verify_tells_staff_of_an_impossible_counter(run: Any, pins: PinLedger,
                                                         tmp_path: Path) -> None:
    """Old code: ``pin verify`` on such a card printed two raw WARNING log lines and then
    "correct (3 tries left)" as if nothing were odd; a wrong PIN said "3 tries left" only.
    Now the line is marked ``!`` with one notice, and the wrong-PIN message (and its JSON)
    say the counter was impossible."""
    card = _hitries(tmp_path)
    res = run("pin", "verify", "auth", "--profile", card, "--pin-stdin",
              stdin=pins.submit(PINS["auth"]) + "\n")
    assert res.rc == 0, res.err
    assert "correct (3 tries left!)" in res.out
    assert res.err.count("more tries left than this PIN allows") == 1
    res = run("pin", "verify", "auth", "--profile", card, "--pin-stdin", "--json",
              stdin=pins.submit("9999") + "\n")
    assert res.rc == 3
    error = res.json()["error"]
    assert error["counter_implausible"] is True and error["retries_left"] == 3
    assert "more tries left than this PIN allows" in error["message"]


def test_pin_status_json_keeps_the_flag(run: Any, tmp_path: Path) -> None:
    """The JSON row carries ``counter_implausible`` (unchanged), and the text table marks
    the row (old code: nothing in the table)."""
    res = run("pin", "status", "--profile", _hitries(tmp_path), "--json")
    auth = next(p for p in res.json()["pins"] if p["id"] == "auth")
    assert auth["counter_implausible"] is True and auth["retries_left"] == 3
    res = run("pin", "status", "--profile", _hitries(tmp_path))
    assert "3/3!" in res.out and "more tries left than this PIN allows" in res.err


# --------------------------------------------------------------------------- finding 4
def test_an_issuer_key_of_an_unknown_algorithm_is_a_usage_error(
        run: Any, pins: PinLedger, tmp_path: Path) -> None:
    """Old code: ``UnsupportedAlgorithm … (unexpected error)``, exit 1, and
    ``load_issuer_key`` let it out to library callers.  Now a usage error (exit 2) naming
    ``--issuer-key`` and the file; no PIN is asked."""
    unk = tmp_path / "unk.pem"
    unk.write_bytes(UNKNOWN_ALGORITHM_PEM)
    with pytest.raises(UsageError) as info:
        load_issuer_key(str(unk))
    assert "--issuer-key" in str(info.value) and "unk.pem" in str(info.value)
    res = run("mynumber", "--emulated", "--pin-stdin", "--issuer-key", unk, "--json",
              stdin=PINS["text"] + "\n")
    assert res.rc == 2
    error = res.json()["error"]
    assert error["option"] == "--issuer-key" and error["path"] == str(unk)
    assert "UnsupportedAlgorithm" not in res.err and "unexpected" not in res.err


def test_a_wrong_issuer_key_is_named_as_such_before_the_pin_is_spent(
        run: Any, pins: PinLedger) -> None:
    """Old code: a genuine card checked under a wrong ``--issuer-key`` got "CV certificate
    signature does not verify (… may have been tampered with)", after the PIN was spent.
    Now the message says the card's CV certificate does not verify under the given issuer
    key, the hint names ``--issuer-key``, and no PIN is asked."""
    wrong = CV / "visual-ap.cvc"  # a CV certificate: its key is not the issuer's
    res = run("basic-info", "--emulated", "--pin-stdin", "--issuer-key", wrong,
              stdin=PINS["text"] + "\n")
    assert res.rc == 5
    assert "CV certificate does not verify under the given issuer key" in res.err
    assert "--issuer-key did not certify" in res.err and "tampered" not in res.err
    res = run("mynumber", "--emulated", "--pin-stdin", "--issuer-key", wrong, "--json",
              stdin=PINS["text"] + "\n")
    error = res.json()["error"]
    assert res.rc == 5 and error["option"] == "--issuer-key"
    assert error["type"] == "DataIntegrityError"  # as before the finer class existed


def test_the_library_raises_the_finer_error_without_asking(mynumber: Emulated,
                                                          pins: PinLedger) -> None:
    """Library callers can catch :class:`IssuerKeyMismatchError` (a DataIntegrityError);
    nobody is asked for the PIN (old code: asked, PIN spent, then DataIntegrityError)."""
    from jukicard.errors import IssuerKeyMismatchError

    asker = ScriptedInteraction([PINS["text"]])
    wrong = load_issuer_key(str(CV / "visual-ap.cvc"))
    with pytest.raises(IssuerKeyMismatchError, match="does not verify under the given"):
        read_verified(mynumber.transport, asker, issuer_key=wrong)
    assert asker.requests == []


@pytest.mark.parametrize("command", ["mynumber", "basic-info"])
def test_the_notices_say_what_the_check_proves(run: Any, pins: PinLedger,
                                               command: str) -> None:
    """Old code: "… not that the card is genuine (give --issuer-key … for that)" —
    overclaiming: a byte-for-byte copy of a genuine card's text-AP data passes
    ``trusted-issuer`` too.  Now each check is worded as what it proves."""
    res = run(command, "--emulated", "--pin-stdin", stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    assert "not that the card is genuine" not in res.err
    assert "checked against the card's own key only" in res.err
    res = run(command, "--emulated", "--pin-stdin", "--issuer-key", CV / "jlis-root.cvc",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    assert "signed by a key the issuer (--issuer-key) certified" in res.err
    assert "does not prove that this physical card" in res.err
    help_text = " ".join(run(command, "--help").out.split())
    assert "a forged card fails" not in help_text
    assert "Neither proves that this physical card" in help_text


# --------------------------------------------------------------------------- finding 7
def test_an_unknown_certificate_id_is_not_repeated(mynumber: Emulated) -> None:
    """Old code: ``export_certificate(t, "918273", …)`` answered "unknown certificate
    '918273'" — the id may be a PIN typed in the wrong place.  Same for a hash name."""
    with pytest.raises(UsageError) as info:
        export_certificate(mynumber.transport, SECRET, ScriptedInteraction())
    assert SECRET not in str(info.value) and "auth-ca" in str(info.value)
    with pytest.raises(UsageError) as info:
        HashAlg.coerce(SECRET)
    assert SECRET not in str(info.value) and "sha256" in str(info.value)


def test_a_dangling_system_config_link_fails_closed(
        run: Any, monkeypatch: pytest.MonkeyPatch, pins: PinLedger, tmp_path: Path) -> None:
    """Old code: ``/etc/jukicard/jukicard.conf`` as a dangling symlink was taken as absent:
    the fallback stayed on (``card info`` exit 0 on the test card with PC/SC down).  Now it
    is a usage error naming the file (exit 2); a truly absent file still means "not set"."""
    _pcsc_down(monkeypatch)
    link = tmp_path / "jukicard.conf"
    link.symlink_to(tmp_path / "moved-away.conf")
    monkeypatch.setattr(connect, "DEFAULT_CONFIG", str(link))
    with pytest.raises(UsageError, match="symbolic link to a file that does not exist"):
        connect.fallback_setting({})
    res = run("card", "info", "--json")
    assert res.rc == 2 and pins.cards == []
    assert str(link) in res.json()["error"]["message"]
    link.unlink()
    assert connect.fallback_setting({}).enabled
