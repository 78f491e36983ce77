"""Issue 11 (last gaps): ``jukicard mynumber`` / ``basic-info`` say where the trust in the
checked data came from, as ``card-face`` does (CARDAUTH-7): ``trust_level``,
``ca_key_id``, ``ca_kind``, ``ca_source``; ``--check ca|own-key|none`` and the shared
trust options ``--allow-test-keys`` / ``--ca-key``.  In-process CLI against the emulated
card (the PIN ledger checks that each PIN fed reached the card once, refused runs none).

Old code: the JSON had only ``signature_checked`` / ``signature_check`` (no trust level,
so the default check was never *said* to be ``self-consistent-only``), and neither command
took ``--check``, ``--allow-test-keys`` or ``--ca-key`` (usage error, exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from emulated_support import PINS, MakeCard, PinLedger
from test_cli_card import MY_NUMBER, NAME, Cli

from jukicard.apdu.apps.text import CARD_AUTH_CHALLENGE_LEN
from jukicard.apdu.command import CommandApdu, ResponseApdu
from jukicard.card.cardauth import challenge_digest_info, exchange_challenge_signature
from jukicard.card.cvc import CvCertificate
from jukicard.cli import data as data_cli
from jukicard.errors import BadResponse, UsageError
from jukicard.services import genuineness
from jukicard.services.data import read_verified
from jukicard.services.genuineness import trust_policy
from jukicard.services.interaction import PinRequest

ROOT = Path(__file__).resolve().parents[2]
CA_FILE = str(ROOT / "vectors/pki/cv/jlis-root.cvc")
TEST_ROOT = CvCertificate.parse(Path(CA_FILE).read_bytes())
TEST_KEYS = ("--allow-test-keys", "--ca-key", CA_FILE)
COMMANDS = ("mynumber", "basic-info")
TRUST_KEYS = ("trust_level", "ca_key_id", "ca_kind", "ca_source")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, make_card: MakeCard,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, make_card, capsys)


def _shows_the_data(command: str, out: str) -> bool:
    return (MY_NUMBER if command == "mynumber" else NAME) in out


@pytest.mark.parametrize("command", COMMANDS)
def test_the_default_check_says_self_consistent_only(cli: Cli, pins: PinLedger,
                                                     command: str) -> None:
    """Old code: the JSON said only ``"signature_check": "card-key-only"``; now it also
    says ``"trust_level": "self-consistent-only"`` (the default stays the card's own key,
    so the emulated demo needs no trust set), with no CA kind or source (no CA vouched)."""
    res = cli.run(command, "--emulated", "--pin-stdin", "--json",
                  stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["trust_level"] == "self-consistent-only"
    assert data["ca_kind"] is None and data["ca_source"] is None
    assert data["ca_key_id"] == TEST_ROOT.chr.hex().upper()  # named, not verified
    assert data["signature_checked"] is True and data["signature_check"] == "card-key-only"
    # the text output is as before: the data on stdout, the own-key line once on stderr
    res = cli.run(command, "--emulated", "--pin-stdin", stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0 and _shows_the_data(command, res.out)
    assert res.err.count("checked against the card's own key only") == 1
    assert "trust_level" not in res.out


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("option", [("--no-check-signature",), ("--check", "none")])
def test_no_check_says_not_checked(cli: Cli, pins: PinLedger, command: str,
                                   option: tuple[str, ...]) -> None:
    """Old code: no ``trust_level``; ``--check`` did not exist.  Now ``not-checked``."""
    res = cli.run(command, "--emulated", "--pin-stdin", "--json", *option,
                  stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert {k: data[k] for k in TRUST_KEYS} == {"trust_level": "not-checked",
                                                "ca_key_id": None, "ca_kind": None,
                                                "ca_source": None}
    assert data["signature_checked"] is False and data["signature_check"] == "not-checked"


def test_basic_info_with_match_b_says_not_checked(cli: Cli, pins: PinLedger) -> None:
    res = cli.run("basic-info", "--emulated", "--pin-stdin", "--match-b", "--json",
                  stdin=pins.submit("07030220358304") + "\n")
    assert res.rc == 0, res.err
    assert res.json()["trust_level"] == "not-checked" and res.json()["name"] == NAME


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("check", [(), ("--check", "ca")])
def test_test_keys_verify_to_the_ca(cli: Cli, pins: PinLedger, command: str,
                                    check: tuple[str, ...]) -> None:
    """Old code: exit 2 (no such options).  Now the trust options (which imply ``--check
    ca``) check the card's CV certificate up to the caller's test CV CA."""
    res = cli.run(command, "--emulated", "--pin-stdin", "--json", *check, *TEST_KEYS,
                  stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert {k: data[k] for k in TRUST_KEYS} == {
        "trust_level": "verified-to-jlis-ca", "ca_key_id": TEST_ROOT.chr.hex().upper(),
        "ca_kind": "test", "ca_source": "caller"}
    assert data["signature_check"] == "trusted-issuer" and _shows_the_data(command, res.out)
    res = cli.run(command, "--emulated", "--pin-stdin", *TEST_KEYS,
                  stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0 and _shows_the_data(command, res.out)
    assert res.err.count("up to CV CA 9990000 (test, caller)") == 1
    assert "own key only" not in res.err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("trust", [("--check", "ca"), ("--allow-test-keys",)])
def test_the_production_policy_refuses_the_test_card(cli: Cli, command: str,
                                                     trust: tuple[str, ...]) -> None:
    """The emulated card's CV CA is in no bundled set (production, or J-LIS test keys):
    exit 5, no data, and no PIN spent (the CV certificate is checked before the PIN is
    asked: the PIN is fed but not submitted, so the ledger fails if it reached the card)."""
    res = cli.run(command, "--emulated", "--pin-stdin", "--json", *trust,
                  stdin=PINS["text"] + "\n")
    assert res.rc == 5
    assert res.json()["error"]["type"] == "UntrustedIssuerError"
    assert MY_NUMBER not in res.out and NAME not in res.out


@pytest.mark.parametrize("command", COMMANDS)
def test_secure_messaging_with_a_policy(cli: Cli, pins: PinLedger, command: str) -> None:
    res = cli.run(command, "--emulated", "--pin-stdin", "--json", "--sm", *TEST_KEYS,
                  stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["secure_messaging"] is True and data["trust_level"] == "verified-to-jlis-ca"
    assert data["ca_kind"] == "test" and data["ca_source"] == "caller"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bare_issuer_key_is_a_caller_key(cli: Cli, pins: PinLedger, command: str) -> None:
    """``--issuer-key`` keeps working (``trusted-issuer``); its key is no bundled J-LIS
    key, so the trust level says ``verified-to-caller-key`` (CARDAUTH-7)."""
    res = cli.run(command, "--emulated", "--pin-stdin", "--json", "--issuer-key", CA_FILE,
                  stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["signature_check"] == "trusted-issuer"
    assert data["trust_level"] == "verified-to-caller-key" and data["ca_source"] == "caller"
    assert data["ca_kind"] is None


@pytest.mark.parametrize("argv", [
    ("mynumber", "--issuer-key", CA_FILE, "--check", "ca"),
    ("mynumber", "--issuer-key", CA_FILE, *TEST_KEYS),
    ("mynumber", "--check", "own-key", "--allow-test-keys"),
    ("mynumber", "--check", "none", "--ca-key", CA_FILE),
    ("mynumber", "--check-signature", "--check", "none"),
    ("mynumber", "--no-check-signature", "--check", "ca"),
    ("mynumber", "--no-check-signature", "--issuer-key", CA_FILE),
    ("basic-info", "--match-b", "--check", "ca"),
    ("basic-info", "--match-b", *TEST_KEYS),
], ids=["issuer+ca", "issuer+trust", "own-key+trust", "none+ca-key", "check+none",
        "no-check+ca", "no-check+issuer", "match-b+ca", "match-b+trust"])
def test_contradictory_options_are_usage_errors(cli: Cli, argv: tuple[str, ...]) -> None:
    """One source of trust per read; nothing asked, nothing sent (the PIN fed is not
    submitted: the ledger fails if it reached the card)."""
    res = cli.run(*argv, "--emulated", "--pin-stdin", "--json", stdin="1234\n")
    assert res.rc == 2, res.out
    assert res.json()["error"]["type"] == "UsageError"


def test_the_help_names_the_trust_levels(cli: Cli) -> None:
    for command in COMMANDS:
        text = " ".join(cli.run(command, "--help").out.split()).replace("- ", "-")  # wraps
        for word in ("self-consistent-only", "verified-to-jlis-ca", "verified-to-caller-key",
                     "not-checked", "--allow-test-keys", "--ca-key", "--check"):
            assert word in text, (command, word)
        assert '"signature_checked" is true when the check ran' in text


class _Asker:
    """An interaction that must never be asked (the call is refused first)."""

    def request_pin(self, request: PinRequest) -> str:
        raise AssertionError("the PIN was asked")


def test_the_service_refuses_both_sources_of_trust(make_card: MakeCard) -> None:
    card = make_card()
    with pytest.raises(UsageError):
        read_verified(card.transport, _Asker(),  # type: ignore[arg-type]
                      issuer_key=TEST_ROOT, policy=trust_policy(allow_test_keys=True))
    assert card.sent == []


# --------------------------------------------------------------------------- one helper
class _Card:
    """Stands in for the card: answers GET CHALLENGE and 80 2A from a script."""

    def __init__(self, challenge: bytes, signature: bytes = b"\x5a" * 256) -> None:
        self.challenge, self.signature = challenge, signature
        self.sent: list[bytes] = []

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        self.sent.append(bytes(cmd))
        data = self.challenge if cmd.ins == 0x84 else self.signature
        return ResponseApdu(data, 0x9000)


def test_exchange_challenge_signature_sends_the_two_apdus() -> None:
    """The one helper the text and visual APs now share (the duplicated GET CHALLENGE /
    ``80 2A`` helpers folded): byte-exact APDUs, as both sessions sent them."""
    challenge, nonce = bytes(range(16)), b"\x11" * 16
    card = _Card(challenge)
    got = exchange_challenge_signature(card.send, nonce)
    assert got == (challenge, b"\x5a" * 256)
    digest_info = challenge_digest_info(challenge + nonce)
    assert card.sent == [bytes([0x00, 0x84, 0, 0, CARD_AUTH_CHALLENGE_LEN]),
                         bytes([0x80, 0x2A, 0, 0, len(digest_info)]) + digest_info + b"\x00"]


def test_exchange_challenge_signature_refuses_a_short_challenge() -> None:
    card = _Card(b"\x01" * 8)
    with pytest.raises(BadResponse, match="8 bytes, not 16"):
        exchange_challenge_signature(card.send, b"\x11" * 16)
    assert len(card.sent) == 1  # nothing signed


def test_the_cli_check_names_are_the_services() -> None:
    """``--check`` is a plain choice (``--help`` imports no card stack): it must name the
    service's checks."""
    assert data_cli.CHECKS == genuineness.CHECKS
