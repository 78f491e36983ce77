"""Services against the in-process emulator, with scripted PIN interaction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from emulated_support import PINS, Emulated, MakeCard, PinLedger, find_file, profile_json

from jukicard.card.dataobjects import MyNumber
from jukicard.card.layout import JpkiPin
from jukicard.errors import (
    ApplicationNotFound,
    NoReaderError,
    PinBlockedError,
    PinError,
    UsageError,
)
from jukicard.pki.signatures import verify_pkcs1v15
from jukicard.services import (
    FALLBACK_NOTICE,
    CardInfo,
    ScriptedInteraction,
    card_info,
    change_pin,
    connect,
    describe_transport,
    export_certificate,
    open_transport,
    pin_status_all,
    read_basic_info,
    read_my_number,
    read_verified,
    sign_data,
    sign_digest,
    sign_file,
    to_pem,
)
from jukicard.services.pins import pin_ref
from jukicard.transport.loopback import LoopbackTransport
from jukicard.transport.tracing import TracingTransport

MY_NUMBER = "201867807611"


def _tries(profile: str, app: str, fid: str, tries: int) -> dict[str, object]:
    prof = profile_json(profile)
    find_file(prof, app, fid)["tries_left"] = tries
    return prof


# --------------------------------------------------------------------------- connect
def test_open_transport_emulated_is_traced_loopback() -> None:
    with open_transport(emulated=True) as t:
        assert isinstance(t, TracingTransport) and isinstance(t.inner, LoopbackTransport)
        assert describe_transport(t) == "emulated card 'mynumber-01'"
    with open_transport(profile="juki-01", trace=False) as t:
        assert isinstance(t, LoopbackTransport)
        assert describe_transport(t) == "emulated card 'juki-01'"


def test_open_transport_rejects_reader_and_emulated() -> None:
    with pytest.raises(UsageError):
        open_transport(reader=0, emulated=True)


def test_open_transport_fallback_notifies(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    told: list[str] = []
    monkeypatch.setattr(connect, "DEFAULT_CONFIG", str(tmp_path / "none.conf"))
    monkeypatch.delenv(connect.FALLBACK_ENV, raising=False)
    monkeypatch.delenv(connect.CONFIG_ENV, raising=False)

    def no_reader(reader: object) -> object:
        raise NoReaderError("no PC/SC reader is attached")

    # the fallback is asked for: since the issue 8 review the library default is no fallback
    with open_transport(fallback=True, notify=told.append, pcsc_factory=no_reader) as t:
        assert describe_transport(t).startswith("emulated card")
    assert told == [FALLBACK_NOTICE]
    with pytest.raises(NoReaderError):
        open_transport(pcsc_factory=no_reader)


def test_open_transport_uses_pcsc_factory_result() -> None:
    class FakeReader:
        reader = "Fake Reader 0"
        generation = 1

    got: list[object] = []

    def factory(reader: object) -> object:
        got.append(reader)
        return FakeReader()

    t = open_transport("Fake", pcsc_factory=factory)  # type: ignore[arg-type]
    assert got == ["Fake"]
    assert describe_transport(t) == "reader 'Fake Reader 0'"


# --------------------------------------------------------------------------- card info
def test_card_info_in_one_transaction(mynumber: Emulated) -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    info = card_info(mynumber.transport, at=at)
    assert isinstance(info, CardInfo)
    assert mynumber.transport.apdus_outside_transaction == 0
    assert mynumber.transport.transactions_begun == 1
    assert info.card_type == "mynumber" and info.token == "JPKIAPICCTOKEN2"
    data = info.to_json()
    assert data["checked_at"] == "2026-01-01T00:00:00+00:00"
    auth = info.certificates[0]
    assert auth.id == "auth" and auth.read and auth.valid_at(at) is True
    assert auth.valid_at(dt.datetime(2040, 1, 1, tzinfo=dt.UTC)) is False
    sign = [c for c in info.certificates if c.id == "sign"][0]
    assert not sign.read and sign.valid_at(at) is None
    # the sign certificate EF was never selected (PIN-protected, personal data)
    assert not any(cmd.startswith(bytes.fromhex("00A4020C020001")) for cmd in mynumber.sent)
    assert mynumber.card.stats.verify_with_data == 0


def test_card_info_unknown_card(make_card: MakeCard) -> None:
    prof = profile_json("mynumber-01")
    prof["applications"] = [a for a in prof["applications"] if a["name"] == "common"] or [
        {"name": "other", "aid": "A000000001", "files": []}]
    em = make_card(data=prof)
    with pytest.raises(ApplicationNotFound):
        card_info(em.transport)


# --------------------------------------------------------------------------- PINs
def test_pin_status_all_juki(juki: Emulated) -> None:
    states = pin_status_all(juki.transport)
    assert [(s.id, s.retries_left, s.max_tries) for s in states] == [("sign", 5, 5),
                                                                     ("juki", 3, 3)]
    assert juki.card.stats.verify_with_data == 0


def test_pin_ref_errors(juki: Emulated) -> None:
    from jukicard.card.detect import open_card

    card = open_card(juki.transport)
    with pytest.raises(UsageError, match="unknown PIN"):
        pin_ref(card, "bogus")
    with pytest.raises(UsageError, match="no 'auth' PIN"):
        pin_ref(card, "auth")


def test_change_pin_asks_current_then_new(mynumber: Emulated, pins: PinLedger) -> None:
    it = ScriptedInteraction([pins.submit(PINS["auth"]), "4321"])
    change_pin(mynumber.transport, "auth", it)
    assert [(r.purpose, r.confirm, r.retries_left) for r in it.requests] == [
        ("current", False, 3), ("new", True, None)]
    assert all(r.pin == JpkiPin.AUTH.value for r in it.requests)
    sig = sign_digest(mynumber.transport, ScriptedInteraction([pins.submit("4321")]),
                      b"\0" * 32, key="auth")
    assert len(sig.signature) == 256


def test_change_pin_refuses_unchangeable(mynumber: Emulated) -> None:
    with pytest.raises(UsageError, match="cannot be changed"):
        change_pin(mynumber.transport, "text", ScriptedInteraction(["1234", "5678"]))


def test_blocked_pin_is_not_asked(make_card: MakeCard) -> None:
    em = make_card(data=_tries("mynumber-01", "jpki", "001B", 0))
    it = ScriptedInteraction(["ABC123"])
    with pytest.raises(PinBlockedError):
        sign_data(em.transport, it, b"x")
    assert it.requests == [] and em.card.stats.verify_with_data == 0


def test_wrong_pin_carries_retries(mynumber: Emulated, pins: PinLedger) -> None:
    with pytest.raises(PinError) as exc:
        read_my_number(mynumber.transport, ScriptedInteraction([pins.submit("0000")]))
    assert exc.value.retries_left == 2
    assert not isinstance(exc.value, PinBlockedError)


# --------------------------------------------------------------------------- data
def test_read_personal_data(mynumber: Emulated, pins: PinLedger) -> None:
    number = read_my_number(mynumber.transport, ScriptedInteraction([pins.submit("1234")]))
    assert isinstance(number, MyNumber) and number.digits == MY_NUMBER
    assert MY_NUMBER not in repr(number)
    info = read_basic_info(mynumber.transport, ScriptedInteraction([pins.submit("1234")]))
    assert info.birth == dt.date(1995, 3, 2)
    info_b = read_basic_info(mynumber.transport,
                             ScriptedInteraction([pins.submit("07030220358304")]),
                             match_b=True)
    assert info_b == info
    n2, i2 = read_verified(mynumber.transport, ScriptedInteraction([pins.submit("1234")]))
    assert n2 == number and i2 == info


def test_export_certificates(mynumber: Emulated, pins: PinLedger) -> None:
    from cryptography import x509

    auth = export_certificate(mynumber.transport, "auth", ScriptedInteraction())
    assert x509.load_der_x509_certificate(auth).subject.rfc4514_string().startswith("CN=")
    assert to_pem(auth).startswith(b"-----BEGIN CERTIFICATE-----")
    it = ScriptedInteraction([pins.submit(PINS["sign"])])
    sign = export_certificate(mynumber.transport, "sign", it)
    assert it.requests[0].pin == JpkiPin.SIGN.value
    assert sign != auth
    with pytest.raises(UsageError, match="unknown certificate"):
        export_certificate(mynumber.transport, "root", ScriptedInteraction())


# --------------------------------------------------------------------------- signing
def test_sign_file_streams_and_verifies(mynumber: Emulated, pins: PinLedger,
                                        tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"\x01" * 200_000)
    res = sign_file(mynumber.transport, ScriptedInteraction([pins.submit(PINS["sign"])]),
                    path, include_certificate=True, hash_alg="sha512")
    assert res.key == "sign" and res.hash_alg == "sha512" and res.certificate is not None
    verify_pkcs1v15(res.signature, certificate=res.certificate, message=path.read_bytes(),
                    hash_alg="sha512")
    assert mynumber.card.stats.signatures == 1


def test_sign_usage_errors_cost_no_pin(mynumber: Emulated, tmp_path: Path) -> None:
    it = ScriptedInteraction(["ABC123"])
    with pytest.raises(UsageError):
        sign_digest(mynumber.transport, it, b"short")
    with pytest.raises(UsageError):
        sign_digest(mynumber.transport, it, b"\0" * 32, key="nope")
    with pytest.raises(UsageError):
        sign_digest(mynumber.transport, it, b"\0" * 32, hash_alg="md5")
    with pytest.raises(UsageError):
        sign_file(mynumber.transport, it, tmp_path / "missing")
    assert it.requests == [] and mynumber.card.stats.verify_with_data == 0


def test_new_emulated_card_bad_profile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(UsageError, match="profile"):
        connect.new_emulated_card(bad)


def test_pin_ledger_watches_every_emulated_card(pins: PinLedger) -> None:
    """A card made outside ``make_card`` (here by ``open_transport(emulated=True)``, as the
    CLI's --emulated does) is in the ledger too: its VERIFY-with-data APDUs are counted."""
    from jukicard.card import JpkiSession

    with open_transport(emulated=True, trace=False) as t:
        JpkiSession(t).verify(JpkiPin.AUTH, pins.submit(PINS["auth"]))
    assert len(pins.cards) == 1
    assert pins.delivered == pins.submitted == 1


def test_unknown_pin_id_is_not_echoed(mynumber: Emulated) -> None:
    """A PIN typed where its id belongs (``pin verify 1234``) must not be printed back
    (old code: ``unknown PIN '1234'``)."""
    from jukicard.card import open_card

    with pytest.raises(UsageError, match="unknown PIN") as info:
        pin_ref(open_card(mynumber.transport), "739182")
    assert "739182" not in str(info.value)
