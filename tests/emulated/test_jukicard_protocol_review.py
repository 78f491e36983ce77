"""Review of the jukicard protocol (issue 11; our own protocol, NOT 住基ネット's): attacks a
man in the middle can run on the emulated card, and the new-user path to a token.

Each test here failed on the code before the review's fix (its docstring says how)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from emulated_support import PINS, Emulated, PinLedger
from softhsm_support import (
    LABEL,
    PIN,
    PIN_ENV,
    PROTOCOL_MASTER_LABEL,
    SO_PIN,
    WRONG_MASTER_LABEL,
    need_softhsm,
)

from jukicard.apdu.apps.juki import JukiEf, JukiPin
from jukicard.card.mutual import KEY_INFO_EF, JukicardProtocolSession
from jukicard.emulator.cardos import CardOS
from jukicard.errors import (
    JukicardSecureMessagingError,
    KeyStoreError,
    KeyStoreUnavailableError,
    MutualAuthenticationError,
    UsageError,
)
from jukicard.keys import KeySession, KeyStore, TokenKey, TokenSettings
from jukicard.services.mutual import DEFAULT_MASTER_LABEL

ROOT = Path(__file__).resolve().parents[2]

RESIDENT_CODE = b"10565175097"
_SELECT_CODE = bytes.fromhex("00A4020C02") + int(JukiEf.RESIDENT_CODE).to_bytes(2, "big")
_READ = bytes.fromhex("00B0000000")


@pytest.fixture
def master(softhsm_keys: KeySession) -> TokenKey:
    return softhsm_keys.key(PROTOCOL_MASTER_LABEL)


def _garbage_protected(card: CardOS) -> bytes:
    """A protected command the attacker cannot MAC: the card destroys its channel."""
    return card.execute(bytes.fromhex("0CB000000D9701208E080000000000000000"))


def _plain_get_challenge(card: CardOS) -> bytes:
    return card.execute(bytes.fromhex("0084000010"))


def _plain_select(card: CardOS) -> bytes:
    return card.execute(_SELECT_CODE)


@pytest.mark.parametrize("end_channel", [_plain_select, _plain_get_challenge,
                                         _garbage_protected],
                         ids=["plain-command", "plain-get-challenge", "broken-channel"])
def test_security_status_gained_under_sm_does_not_survive_the_channel(
        juki: Emulated, softhsm_keys: KeySession, master: TokenKey, pins: PinLedger,
        end_channel: Callable[[CardOS], bytes]) -> None:
    """A man in the middle waits until the host has VERIFYed the 住基 PIN under secure
    messaging, then ends the channel (a plain command, a plain GET CHALLENGE, or a protected
    command it cannot MAC) and reads the 住民票コード IN CLEAR with plain SELECT + READ
    BINARY.  Failed before the fix: the card let plain commands through beside an open
    jukicard secure channel and kept the PIN status gained under it (``31303536...9000``).
    Now a plain command ends the channel and the channel's end clears the security status:
    the plain READ gets ``69 82`` and the host's next protected command fails."""
    card = juki.card
    s = JukicardProtocolSession(juki.transport)
    s.authenticate(softhsm_keys, master)
    s.verify(JukiPin.PIN, pins.submit(PINS["juki"]))
    end_channel(card)
    assert card.execute(_SELECT_CODE)[-2:] == b"\x90\x00"
    answer = card.execute(_READ)
    assert RESIDENT_CODE not in answer and answer == b"\x69\x82"
    assert card.secure_channel is None or type(card.secure_channel).__name__ != \
        "JukicardSecureChannel"
    with pytest.raises(JukicardSecureMessagingError):
        s.read_ef(KEY_INFO_EF)
    assert s.state == "closed"


# --------------------------------------------------------------------------- the new user's token
def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], env=env, capture_output=True,
                          text=True, timeout=120)


def _token_env(tmp_path: Path) -> dict[str, str]:
    need_softhsm()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUKICARD_PKCS11")}
    env.pop("SOFTHSM2_CONF", None)
    env.update({"PYTHONPATH": str(ROOT), "JUKICARD_PKCS11_PIN": PIN,
                "JUKICARD_PKCS11_SO_PIN": SO_PIN})
    return env


def _authenticate(env: dict[str, str], init_stdout: str, label: str) -> Any:
    env = {**env, "SOFTHSM2_CONF": init_stdout.strip().splitlines()[-1].split("=", 1)[1],
           "JUKICARD_PKCS11_TOKEN": label}
    done = _run(["jukicard", "juki", "authenticate", "--profile", "juki-01", "--json"], env)
    assert PIN not in done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def test_documented_test_token_command_authenticates_the_emulated_card(tmp_path: Path) -> None:
    """README: ``python -m jukicard.testing.jptoken`` then ``jukicard juki authenticate
    --profile juki-01``.  Failed before the review: no command made a token the emulated
    cards accept (the README sent the user to ``import_demo_master_key`` from Python)."""
    env = _token_env(tmp_path)
    made = _run(["jukicard.testing.jptoken", "--dir", str(tmp_path / "hsm"), "--label",
                 "jukicard-test"], env)
    assert made.returncode == 0, made.stderr
    assert "TEST" in made.stdout and PIN not in made.stdout + made.stderr
    rc, out = _authenticate(env, made.stdout, "jukicard-test")
    assert rc == 0 and out["result"] == "mutually-authenticated"
    assert out["card_id"] == "TESTJUKI00000001"
    assert out["master_label"] == DEFAULT_MASTER_LABEL


def test_init_command_default_master_is_the_protocols(tmp_path: Path) -> None:
    """``python -m jukicard.keys.init`` without ``--master`` makes the key ``jukicard juki
    authenticate`` looks for (a generated one: the emulated card refuses it, 63C2).  Failed
    before the review: the default label was ``master`` and the command said "no key
    labelled 'jukicard-protocol-master'"."""
    env = _token_env(tmp_path)
    made = _run(["jukicard.keys.init", "--dir", str(tmp_path / "hsm"), "--label", "prod"], env)
    assert made.returncode == 0, made.stderr
    rc, out = _authenticate(env, made.stdout, "prod")
    assert rc == 4 and out["error"]["type"] == "MutualAuthenticationError", out
    assert out["error"]["sw"] == "63C2"


def test_token_lookup_failures_are_typed_and_name_softhsm2_conf(
        monkeypatch: pytest.MonkeyPatch, softhsm_token: TokenSettings) -> None:
    """A module whose token listing fails (python-pkcs11's ``GeneralError``) ends in a
    ``KeyStoreError``; a missing SoftHSM2 token names ``$SOFTHSM2_CONF``.  Failed before the
    review: ``lib.get_token`` was outside the error translation (the python-pkcs11 exception
    escaped untyped) and the message did not say where SoftHSM2 looks."""
    from pkcs11 import exceptions as p11e

    from jukicard.keys import token as token_mod

    with pytest.raises(KeyStoreUnavailableError, match="SOFTHSM2_CONF"):
        KeyStore.open(TokenSettings("no-such-token", softhsm_token.pin))

    class BrokenLib:
        def get_token(self, **_kw: Any) -> Any:
            raise p11e.GeneralError()

    monkeypatch.setattr(token_mod, "_load", lambda _module: BrokenLib())
    with pytest.raises(KeyStoreError) as err:
        KeyStore.open(softhsm_token)
    assert "GeneralError" in str(err.value) and PIN not in str(err.value)


def test_a_long_lived_key_session_keeps_no_per_card_keys(
        make_card: Any, softhsm_keys: KeySession, master: TokenKey) -> None:
    """A terminal keeps one key session open (``keys=``) and authenticates card after card,
    with successes and failures: the token session holds no derived key afterwards.  Failed
    before the review: every authentication left its three per-card keys in the token
    (session objects until the key session closed: about 9 MB of SoftHSM2 memory per
    thousand authentications)."""
    from pkcs11 import Attribute, ObjectClass

    def derived() -> int:
        objs = softhsm_keys._live().get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                                 Attribute.TOKEN: False})
        return len(list(objs))

    before = derived()
    for card_id in (None, "TESTJUKI00000002"):  # a success, then a wrong-key failure
        card = make_card("juki-01")
        s = JukicardProtocolSession(card.transport)
        try:
            s.authenticate(softhsm_keys, master, card_id=card_id)
        except MutualAuthenticationError:
            assert card_id is not None
        s.close()
    assert derived() == before


def test_destroy_refuses_token_objects(softhsm_keys: KeySession, master: TokenKey) -> None:
    """Only per-card (derived) keys are destroyed: the master is a token object."""
    with pytest.raises(UsageError):
        softhsm_keys.destroy(master)
    assert softhsm_keys.key(PROTOCOL_MASTER_LABEL).label == PROTOCOL_MASTER_LABEL


# --------------------------------------------------------------------------- the CLI's verdicts
_CLI = ["juki", "authenticate", "--profile", "juki-01", "--json", "--token-label", LABEL,
        "--token-pin-env", PIN_ENV]


def test_cli_tells_a_card_that_fails_to_prove_itself_from_a_refusal(
        softhsm_token: TokenSettings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A man in the middle changes the card's MUTUAL AUTHENTICATE answer (as a clone's
    would look): the terminal refuses the CARD, so the CLI says so with exit 5 (like
    ``jukicard card authenticate`` for a card that fails to prove itself), not exit 4 "the
    card refused the operation".  Failed before the review (exit 4, that hint)."""
    from jukicard.cli.main import main
    from jukicard.emulator.mutualauth import MutualAuthCommands

    genuine = MutualAuthCommands._mutual_authenticate

    def tampered(self: MutualAuthCommands, cmd: Any) -> bytes:
        answer = genuine(self, cmd)
        return answer[:-1] + bytes((answer[-1] ^ 1,))

    monkeypatch.setattr(CardOS, "_mutual_authenticate", tampered)
    rc = main(_CLI)
    err = json.loads(capsys.readouterr().out)["error"]
    assert rc == 5 and err["type"] == "MutualAuthenticationCardError"
    assert "did not prove" in err["hint"] and "refused the operation" not in err["hint"]


def test_cli_wrong_master_hint_names_the_terminal_key(
        softhsm_token: TokenSettings, capsys: pytest.CaptureFixture[str]) -> None:
    """The card refuses the terminal's key: exit 4 with a hint that says what to check."""
    from jukicard.cli.main import main

    rc = main([*_CLI, "--master-label", WRONG_MASTER_LABEL])
    err = json.loads(capsys.readouterr().out)["error"]
    assert rc == 4 and err["type"] == "MutualAuthenticationError"
    assert "terminal's key" in err["hint"]
