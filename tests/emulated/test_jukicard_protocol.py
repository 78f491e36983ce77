"""The jukicard protocol (issue 11, "the system proves itself"; our own protocol, NOT
住基ネット's) against the in-process emulator, with the keys in a real SoftHSM2 token the test
run creates (``tests/softhsm_support.py``): the good run and every failure path, each ending
in a typed error with no session left half-authenticated."""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from emulated_support import PINS, Emulated, MakeCard, PinLedger, profile_json
from softhsm_support import PIN, PROTOCOL_MASTER_LABEL, WRONG_MASTER_LABEL

from jukicard.apdu.apps.jpki import JPKI
from jukicard.apdu.command import CommandApdu
from jukicard.card.mutual import KEY_INFO_EF, JukicardProtocolSession, KeyInfo
from jukicard.emulator.cardos import CardOS
from jukicard.emulator.mutualauth import PendingChallenge
from jukicard.emulator.profile import CardProfile
from jukicard.errors import (
    CardRemovedError,
    CardResetError,
    JukicardSecureMessagingError,
    JukicardSessionClosedError,
    MutualAuthenticationBlockedError,
    MutualAuthenticationError,
)
from jukicard.keys import KeySession, TokenKey, TokenSettings
from jukicard.services.mutual import ProtocolSettings, mutual_authenticate
from jukicard.testing.pkigen.protocolkeys import (
    PROTOCOL_CARD_IDS,
    TEST_PROTOCOL_MASTER_KEY,
    diversified_test_key,
    protocol_files,
)
from jukicard.transport.loopback import LoopbackTransport

ROOT = Path(__file__).resolve().parents[2]
CARD_ID = PROTOCOL_CARD_IDS["juki1"]
RESIDENT_CODE = "10565175097"


@pytest.fixture
def keys(softhsm_keys: KeySession) -> KeySession:
    return softhsm_keys


@pytest.fixture
def master(softhsm_keys: KeySession) -> TokenKey:
    return softhsm_keys.key(PROTOCOL_MASTER_LABEL)


def _key_ief(card: CardOS) -> Any:
    return card.fs.df("juki").files[0x0031]


def _authenticated(transport: Any, keys: KeySession, master: TokenKey) -> JukicardProtocolSession:
    s = JukicardProtocolSession(transport)
    s.authenticate(keys, master)
    return s


class Tamper:
    """A card in the reader whose APDUs an attacker on the wire may change: ``on_command``
    and ``on_response`` rewrite what passes (stands in for a man in the middle)."""

    def __init__(self, card: CardOS) -> None:
        self.card = card
        self.on_command: Callable[[bytes], bytes] = lambda c: c
        self.on_response: Callable[[bytes, bytes], bytes] = lambda c, r: r

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        self.card.reset()

    def execute(self, apdu: bytes) -> bytes:
        cmd = self.on_command(bytes(apdu))
        return self.on_response(cmd, self.card.execute(cmd))


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes((data[index] ^ 0x01,)) + data[index + 1:]


@pytest.fixture
def wire(juki: Emulated) -> tuple[Tamper, LoopbackTransport]:
    tamper = Tamper(juki.card)
    return tamper, LoopbackTransport(tamper, record=True)


# --------------------------------------------------------------------------- good run
def test_good_run_then_protected_pin_and_read(juki: Emulated, keys: KeySession,
                                              master: TokenKey, pins: PinLedger) -> None:
    s = JukicardProtocolSession(juki.transport)
    assert s.state == "new"
    used = s.authenticate(keys, master)
    assert used == CARD_ID and s.authenticated and s.card_id == CARD_ID
    code = s.read_resident_code(pins.submit(PINS["juki"]))
    assert code.digits == RESIDENT_CODE
    # after authentication everything went protected, and the PIN never crossed in clear
    sent = [c for c, _ in juki.transport.transcript]
    auth = max(i for i, c in enumerate(sent) if c[1] == 0x82)
    assert len(sent) - auth - 1 == 4 and all(c[0] == 0x0C for c in sent[auth + 1:])
    assert not any(PINS["juki"].encode() in c for c, _ in juki.transport.transcript)
    assert _key_ief(juki.card).tries_left == 3
    s.close()
    with pytest.raises(JukicardSessionClosedError):
        s.read_ef(KEY_INFO_EF)


def test_service_with_token_settings(juki: Emulated, softhsm_token: TokenSettings) -> None:
    result = mutual_authenticate(juki.transport, ProtocolSettings(softhsm_token))
    out = result.to_json()
    assert out["result"] == "mutually-authenticated" and out["card_id"] == CARD_ID
    assert "NOT" not in out["protocol"] and "not 住基ネット" in out["protocol"]


def test_any_application_configured_for_the_protocol(make_card: MakeCard, keys: KeySession,
                                                     master: TokenKey) -> None:
    """The protocol runs on another AP once its profile holds the key (JP-1)."""
    prof = CardProfile.from_json(profile_json("juki-01"))
    jpki = prof.application("jpki")
    jpki_files = tuple(f.to_json() for f in (*jpki.files, *protocol_files(CARD_ID)))
    data = profile_json("juki-01")
    for app in data["applications"]:
        if app["name"] == "jpki":
            app["files"] = list(jpki_files)
    card = make_card(data=data)
    s = JukicardProtocolSession(card.transport, application=JPKI)
    s.authenticate(keys, master)
    assert KeyInfo.parse(s.read_ef(KEY_INFO_EF)).card_id == CARD_ID


def test_application_without_a_protocol_key(make_card: MakeCard, keys: KeySession,
                                            master: TokenKey) -> None:
    card = make_card("juki-01")
    s = JukicardProtocolSession(card.transport, application=JPKI)
    with pytest.raises(MutualAuthenticationError) as err:
        s.authenticate(keys, master, card_id=CARD_ID)
    assert err.value.sw == 0x6A88 and s.state == "closed"


# --------------------------------------------------------------------------- wrong keys
def test_wrong_master_key_is_refused_by_the_card(juki: Emulated, keys: KeySession) -> None:
    s = JukicardProtocolSession(juki.transport)
    with pytest.raises(MutualAuthenticationError) as err:
        s.authenticate(keys, keys.key(WRONG_MASTER_LABEL))
    assert err.value.retries_left == 2 and err.value.sw == 0x63C2
    assert s.state == "closed" and juki.card.secure_channel is None
    with pytest.raises(JukicardSessionClosedError):
        s.read_ef(KEY_INFO_EF)
    with pytest.raises(JukicardSessionClosedError):
        s.authenticate(keys, keys.key(PROTOCOL_MASTER_LABEL))


def test_another_cards_key_opens_no_other_card(make_card: MakeCard, keys: KeySession,
                                               master: TokenKey) -> None:
    """Card B's keys on a card that says it is card A (and vice versa): refused."""
    other = make_card("juki-01")
    s = JukicardProtocolSession(other.transport)
    with pytest.raises(MutualAuthenticationError) as err:
        s.authenticate(keys, master, card_id="TESTJUKI00000002")
    assert err.value.retries_left == 2


def test_cloned_card_with_the_right_data_and_a_wrong_key_is_rejected_by_the_host(
        make_card: MakeCard, keys: KeySession, master: TokenKey) -> None:
    """A clone: the genuine card's data and id, keys of its own, and (a test double standing
    in for a malicious card) accepting ANY terminal cryptogram: the host still refuses."""
    data = profile_json("juki-01")
    for app in data["applications"]:
        if app["name"] == "juki":
            for f in app["files"]:
                if f["kind"] == "jukicard_protocol_key":
                    f.update({k: diversified_test_key(CARD_ID, p, bytes(32)).hex()
                              for k, p in (("enc_key", "jp1-enc"), ("mac_key", "jp1-mac"),
                                           ("kdf_key", "jp1-kdf"))})

    class CloneAcceptingAnyTerminal(CardOS):
        def _mutual_authenticate(self, cmd: CommandApdu) -> bytes:
            from jukicard.emulator import mutualauth

            spec = self._protocol_key().spec  # type: ignore[union-attr]
            pending = self.secure_channel
            assert isinstance(pending, PendingChallenge)
            plain = mutualauth._cbc(spec.enc_key, cmd.data[:48], encrypt=False)
            e = mutualauth._cbc(spec.enc_key, pending.challenge + plain[:16] + bytes(16),
                                encrypt=True)
            return e + mutualauth._cmac(spec.mac_key, e)

    clone = CloneAcceptingAnyTerminal(CardProfile.from_json(data))
    s = JukicardProtocolSession(LoopbackTransport(clone))
    with pytest.raises(MutualAuthenticationError, match="did not prove"):
        s.authenticate(keys, master)
    assert s.state == "closed"


# --------------------------------------------------------------------------- tampering
def test_tampered_terminal_cryptogram(wire: tuple[Tamper, LoopbackTransport],
                                      keys: KeySession, master: TokenKey) -> None:
    tamper, transport = wire
    tamper.on_command = lambda c: _flip(c, 10) if c[1] == 0x82 else c
    s = JukicardProtocolSession(transport)
    with pytest.raises(MutualAuthenticationError) as err:
        s.authenticate(keys, master)
    assert err.value.retries_left == 2 and s.state == "closed"


@pytest.mark.parametrize("index", [3, 50, 63], ids=["E.ICC", "M.ICC-start", "M.ICC-end"])
def test_tampered_card_answer(wire: tuple[Tamper, LoopbackTransport], keys: KeySession,
                              master: TokenKey, index: int) -> None:
    tamper, transport = wire
    tamper.on_response = lambda c, r: _flip(r, index) if c[1] == 0x82 else r
    s = JukicardProtocolSession(transport)
    with pytest.raises(MutualAuthenticationError, match="did not prove"):
        s.authenticate(keys, master)
    assert s.state == "closed"


def test_replayed_card_answer_is_refused(wire: tuple[Tamper, LoopbackTransport],
                                         keys: KeySession, master: TokenKey) -> None:
    tamper, transport = wire
    first = JukicardProtocolSession(transport)
    first.authenticate(keys, master)
    old = next(r for c, r in reversed(transport.transcript) if c[1] == 0x82)
    tamper.on_response = lambda c, r: old if c[1] == 0x82 else r
    s = JukicardProtocolSession(transport)
    with pytest.raises(MutualAuthenticationError, match="replayed"):
        s.authenticate(keys, master)
    assert s.state == "closed" and first.state == "closed"  # the re-select ended the first


def test_wrong_mac_on_a_protected_response(wire: tuple[Tamper, LoopbackTransport],
                                           keys: KeySession, master: TokenKey) -> None:
    tamper, transport = wire
    s = _authenticated(transport, keys, master)
    tamper.on_response = lambda c, r: _flip(r, len(r) - 3) if c[0] == 0x0C else r
    with pytest.raises(JukicardSecureMessagingError, match="wrong MAC"):
        s.read_ef(KEY_INFO_EF)
    assert s.state == "closed"
    with pytest.raises(JukicardSessionClosedError):
        s.read_ef(KEY_INFO_EF)


def test_wrong_mac_on_a_protected_command_destroys_the_card_channel(
        wire: tuple[Tamper, LoopbackTransport], keys: KeySession, master: TokenKey) -> None:
    tamper, transport = wire
    s = _authenticated(transport, keys, master)
    tamper.on_command = lambda c: _flip(c, len(c) - 2) if c[0] == 0x0C else c
    with pytest.raises(JukicardSecureMessagingError) as err:
        s.read_ef(KEY_INFO_EF)
    assert err.value.sw == 0x6988 and s.state == "closed"
    assert tamper.card.secure_channel is None


def test_status_word_swapped_under_the_mac(wire: tuple[Tamper, LoopbackTransport],
                                           keys: KeySession, master: TokenKey) -> None:
    """An attacker turning a refusal into 9000 (or back) on the trailer is caught (99 ≠ SW)."""
    tamper, transport = wire
    s = _authenticated(transport, keys, master)
    tamper.on_response = lambda c, r: r[:-2] + b"\x6a\x82" if c[0] == 0x0C else r
    with pytest.raises(JukicardSecureMessagingError, match="differs"):
        s.read_ef(KEY_INFO_EF)


def test_send_sequence_counter_skip(juki: Emulated, keys: KeySession, master: TokenKey) -> None:
    s = _authenticated(juki.transport, keys, master)
    assert s._sm is not None
    s._sm._ssc += 2  # the host skips a counter value (white box)
    with pytest.raises(JukicardSecureMessagingError) as err:
        s.read_ef(KEY_INFO_EF)
    assert err.value.sw == 0x6988 and juki.card.secure_channel is None


def test_send_sequence_counter_replay_to_the_card(juki: Emulated, keys: KeySession,
                                                  master: TokenKey) -> None:
    """A recorded protected command sent again (counter already used) is refused."""
    s = _authenticated(juki.transport, keys, master)
    s.read_ef(KEY_INFO_EF)
    old = next(c for c, _ in juki.transport.transcript if c[0] == 0x0C)
    resp = juki.card.execute(old)
    assert resp == b"\x69\x88" and juki.card.secure_channel is None
    with pytest.raises(JukicardSecureMessagingError):
        s.read_ef(KEY_INFO_EF)  # the card's channel is gone: 68 82
    assert s.state == "closed"


def test_replayed_protected_response_to_the_host(wire: tuple[Tamper, LoopbackTransport],
                                                 keys: KeySession, master: TokenKey) -> None:
    tamper, transport = wire
    s = _authenticated(transport, keys, master)
    s.read_ef(KEY_INFO_EF)
    old_select = next(r for c, r in transport.transcript if c[0] == 0x0C)
    tamper.on_response = lambda c, r: old_select if c[0] == 0x0C else r
    with pytest.raises(JukicardSecureMessagingError, match="wrong MAC"):
        s.read_ef(KEY_INFO_EF)


# --------------------------------------------------------------------------- reset / removal
def test_reset_between_challenge_and_authenticate(juki: Emulated, keys: KeySession,
                                                  master: TokenKey) -> None:
    # SELECT (constructor); SELECT, SELECT EF, READ (key info); SELECT, GET CHALLENGE; then
    # the reset hits MUTUAL AUTHENTICATE
    juki.transport.inject("reset", before_apdu=7)
    s = JukicardProtocolSession(juki.transport)
    with pytest.raises(CardResetError):
        s.authenticate(keys, master)
    assert s.state == "closed" and juki.card.secure_channel is None
    fresh = _authenticated(juki.transport, keys, master)  # the next session starts clean
    assert fresh.authenticated


def test_card_forgets_a_challenge_at_reset(juki: Emulated, keys: KeySession,
                                           master: TokenKey) -> None:
    """GET CHALLENGE, reset, MUTUAL AUTHENTICATE: the card has no challenge (6985)."""
    tamper = Tamper(juki.card)
    transport = LoopbackTransport(tamper)
    tamper.on_command = lambda c: (juki.card.reset(), c)[1] if c[1] == 0x82 else c
    s = JukicardProtocolSession(transport)
    with pytest.raises(MutualAuthenticationError) as err:
        s.authenticate(keys, master)
    assert err.value.sw in (0x6985, 0x6A88) and s.state == "closed"
    assert _key_ief(juki.card).tries_left == 3  # no attempt was counted


def test_reset_after_authentication(juki: Emulated, keys: KeySession, master: TokenKey) -> None:
    s = _authenticated(juki.transport, keys, master)
    juki.transport.reset()
    assert s.state == "closed"
    with pytest.raises(JukicardSessionClosedError):
        s.read_ef(KEY_INFO_EF)
    assert _authenticated(juki.transport, keys, master).authenticated


def test_removal_mid_protocol(juki: Emulated, keys: KeySession, master: TokenKey) -> None:
    s = JukicardProtocolSession(juki.transport)
    juki.transport.inject("removed", before_apdu=6)  # at GET CHALLENGE
    with pytest.raises(CardRemovedError):
        s.authenticate(keys, master)
    assert s.state == "closed"
    juki.transport.insert()
    assert juki.card.secure_channel is None
    assert _authenticated(juki.transport, keys, master).authenticated


def test_removal_under_secure_messaging(juki: Emulated, keys: KeySession,
                                        master: TokenKey) -> None:
    s = _authenticated(juki.transport, keys, master)
    juki.transport.inject("removed")
    with pytest.raises(CardRemovedError):
        s.read_ef(KEY_INFO_EF)
    assert s.state == "closed"
    juki.transport.insert()
    with pytest.raises(JukicardSessionClosedError):
        s.read_ef(KEY_INFO_EF)


def test_another_application_selected_ends_the_session(juki: Emulated, keys: KeySession,
                                                       master: TokenKey) -> None:
    s = _authenticated(juki.transport, keys, master)
    from jukicard.card.jpki import JukiJpkiSession

    JukiJpkiSession(juki.transport)
    with pytest.raises(JukicardSessionClosedError):
        s.read_ef(KEY_INFO_EF)


# --------------------------------------------------------------------------- failure counter
def test_blocked_after_three_failures(juki: Emulated, keys: KeySession, master: TokenKey) -> None:
    wrong = keys.key(WRONG_MASTER_LABEL)
    seen = []
    for _ in range(3):
        with pytest.raises(MutualAuthenticationError) as err:
            JukicardProtocolSession(juki.transport).authenticate(keys, wrong)
        seen.append((type(err.value).__name__, err.value.retries_left))
    assert seen == [("MutualAuthenticationError", 2), ("MutualAuthenticationError", 1),
                    ("MutualAuthenticationBlockedError", 0)]
    with pytest.raises(MutualAuthenticationBlockedError) as err:
        JukicardProtocolSession(juki.transport).authenticate(keys, master)  # even the right key
    assert err.value.sw == 0x6983
    assert juki.card.to_profile().application("juki").file(0x0031).tries_left == 0  # type: ignore[union-attr]


def test_counter_resets_on_success(juki: Emulated, keys: KeySession, master: TokenKey) -> None:
    wrong = keys.key(WRONG_MASTER_LABEL)
    for _ in range(2):
        with pytest.raises(MutualAuthenticationError):
            JukicardProtocolSession(juki.transport).authenticate(keys, wrong)
    assert _key_ief(juki.card).tries_left == 1
    _authenticated(juki.transport, keys, master)
    assert _key_ief(juki.card).tries_left == 3


# --------------------------------------------------------------------------- secrets, layering
def test_no_secret_in_logs_reprs_or_errors(juki: Emulated, keys: KeySession, master: TokenKey,
                                           caplog: pytest.LogCaptureFixture,
                                           pins: PinLedger) -> None:
    caplog.set_level(logging.DEBUG)
    s = JukicardProtocolSession(juki.transport)
    s.authenticate(keys, master)
    s.read_resident_code(pins.submit(PINS["juki"]))
    assert s._sm is not None and s._sm._cipher is not None
    texts = [caplog.text, repr(s), repr(s._sm), repr(s._sm._cipher), repr(juki.card.secure_channel),
             repr(_key_ief(juki.card)), repr(_key_ief(juki.card).spec), repr(keys), repr(master)]
    with pytest.raises(MutualAuthenticationError) as err:
        JukicardProtocolSession(juki.transport).authenticate(keys, keys.key(WRONG_MASTER_LABEL))
    texts.append(str(err.value))
    secrets = [TEST_PROTOCOL_MASTER_KEY.hex()] + [
        diversified_test_key(CARD_ID, p).hex() for p in ("jp1-enc", "jp1-mac", "jp1-kdf")] + [
        bytes(s._sm._cipher._crypto._mac.key).hex(),  # type: ignore[attr-defined]
        bytes(s._sm._cipher._crypto._enc.key).hex()]  # type: ignore[attr-defined]
    blob = "\n".join(texts).lower()
    for secret in secrets:
        assert secret not in blob
    assert PIN not in blob and RESIDENT_CODE not in blob


def test_card_layer_never_imports_the_key_store() -> None:
    """The card half defines KeyOps; jukicard.keys is wired in only by the service."""
    for name in ("mutual.py", "iso_sm.py"):
        tree = ast.parse((ROOT / "jukicard/card" / name).read_text(encoding="utf-8"))
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(m and m.startswith("jukicard.keys") for m in mods), name


# --------------------------------------------------------------------------- the card's rules
def test_card_answers_of_mutual_authenticate(juki: Emulated) -> None:
    """JP-5: the card's status words, none of which touches the counter."""
    card = juki.card
    x = card.execute
    assert x(bytes.fromhex("00A4040C0AD3921000310001010401"))[-2:] == b"\x90\x00"
    assert x(b"\x00\x82\x00\x00\x40" + bytes(64))[-2:] == b"\x69\x85"  # no challenge
    assert len(x(bytes.fromhex("0084000010"))) == 18
    assert x(b"\x00\x82\x00\x00\x10" + bytes(16))[-2:] == b"\x67\x00"  # wrong length ...
    assert x(b"\x00\x82\x00\x00\x40" + bytes(64))[-2:] == b"\x69\x85"  # ... used it up
    assert x(b"\x00\x82\x00\x01\x40" + bytes(64))[-2:] == b"\x6a\x86"
    # SM-E4 (emulator/textsm.py): READ BINARY under an SM CLA with no session open is 69FC
    assert x(bytes.fromhex("0CB000000D9701208E080000000000000000"))[-2:] == b"\x69\xfc"
    assert _key_ief(card).tries_left == 3
    x(bytes.fromhex("0084000010"))
    assert x(b"\x00\x82\x00\x00\x40" + bytes(64))[-2:] == b"\x63\xc2"  # a real attempt
    card.reset()
    assert x(bytes.fromhex("00A4040C0AD3921000310001010401"))[-2:] == b"\x90\x00"
    assert x(b"\x00\x82\x00\x00\x40" + bytes(64))[-2:] == b"\x69\x85"
    assert _key_ief(card).tries_left == 2
