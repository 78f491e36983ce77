"""The counter CLI end to end against the in-process emulator.

Every ``--emulated`` / ``--profile`` run gets the card the test put "in the reader"
(:class:`Cli`), made with the ``make_card`` fixture so the PIN ledger of
``tests/emulated/conftest.py`` checks that each PIN a test feeds on stdin reached the card
exactly once (``pins.submit``) and that refused PINs reached it not at all.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from emulated_support import PINS, MakeCard, PinLedger, find_file, profile_json

from jukicard.cli.main import main
from jukicard.emulator.cardos import CardOS
from jukicard.errors import CardRemovedError, NoReaderError, ReaderUnavailableError
from jukicard.pki.signatures import verify_pkcs1v15
from jukicard.services import connect

MY_NUMBER = "201867807611"  # synthetic test card mynumber-01 (vectors/cards/README.md)
NAME = "模擬　花子"
ADDRESS_PART = "千代田区"
EMULATED = {"kind": "emulated", "name": "mynumber-01", "fallback": False,
            "profile": "mynumber-01"}
#: issue 11: the default check is said to be self-consistent-only (the id is the CV CA the
#: card's CV certificate names, unverified; no kind or source: no CA vouched for it)
OWN_KEY_TRUST = {"trust_level": "self-consistent-only",
                 "ca_key_id": "39393930303030080530303000000000", "ca_kind": None,
                 "ca_source": None}


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """Runs ``jukicard`` with the card of this test in the emulated "reader"."""

    monkeypatch: pytest.MonkeyPatch
    make_card: MakeCard
    capsys: pytest.CaptureFixture[str]
    card: CardOS | None = None
    cards_made: list[str] = field(default_factory=list)

    def use(self, profile: str = "mynumber-01", data: dict[str, Any] | None = None) -> CardOS:
        self.card = self.make_card(profile, data=data).card
        return self.card

    def _factory(self, profile: object = "mynumber-01") -> CardOS:
        self.cards_made.append(str(profile))
        if self.card is None:
            self.use(str(profile))
        assert self.card is not None
        return self.card

    def run(self, *argv: str, stdin: str = "") -> Result:
        self.monkeypatch.setattr(connect, "new_emulated_card", self._factory)
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        self.capsys.readouterr()
        rc = main(list(argv))
        captured = self.capsys.readouterr()
        return Result(rc, captured.out, captured.err)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, make_card: MakeCard,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, make_card, capsys)


def _with_tries(profile: str, app: str, fid: str, tries: int) -> dict[str, Any]:
    prof = profile_json(profile)
    find_file(prof, app, fid)["tries_left"] = tries
    return prof


# --------------------------------------------------------------------------- card info
def test_card_info_text(cli: Cli) -> None:
    res = cli.run("card", "info", "--emulated")
    assert res.rc == 0, res.err
    assert "My Number card" in res.out
    assert "emulated card 'mynumber-01'" in res.out
    assert "JPKIAPICCTOKEN2" in res.out
    for app in ("jpki", "text", "visual"):
        assert f"  {app} " in res.out
    assert "CN=3916949683900943,C=JP" in res.out  # the auth certificate's subject
    assert "protected by the 署名用電子証明書暗証番号 (signature password)" in res.out
    # no personal data in card info
    for secret in (MY_NUMBER, NAME, ADDRESS_PART, "Chiyoda"):
        assert secret not in res.out and secret not in res.err


def test_card_info_json(cli: Cli) -> None:
    res = cli.run("card", "info", "--emulated", "--json")
    assert res.rc == 0
    data = res.json()
    assert data["card_type"] == "mynumber"
    assert data["token"] == "JPKIAPICCTOKEN2"
    assert data["atr"] == "3BE000FF8131FE4514"
    assert [a["name"] for a in data["applications"]] == ["jpki", "text", "visual"]
    certs = {c["id"]: c for c in data["certificates"]}
    assert set(certs) == {"auth", "auth-ca", "sign", "sign-ca"}
    assert certs["sign"]["read"] is False and "subject" not in certs["sign"]
    assert certs["auth"]["key"] == "RSA-2048"
    assert certs["auth-ca"]["subject"] == certs["auth-ca"]["issuer"]
    assert certs["auth"]["valid_now"] is True
    assert certs["auth"]["not_before"].startswith("2025-04-01")


def test_card_info_juki_card(cli: Cli) -> None:
    res = cli.run("card", "info", "--profile", "juki-01", "--json")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["card_type"] == "juki" and data["token"] == "JPKIAPICCTOKEN"
    assert [c["id"] for c in data["certificates"]] == ["sign", "sign-ca"]
    juki = [a for a in data["applications"] if a["name"] == "juki"][0]
    assert juki["verified_layout"] is False
    assert cli.cards_made == ["juki-01"]


def test_card_info_expired_certificates(cli: Cli) -> None:
    # mynumber-03: certificates from the expired 2015 CA
    res = cli.run("card", "info", "--profile", "mynumber-03")
    assert res.rc == 0
    assert "NOT valid now" in res.out


def test_card_info_bad_profile(cli: Cli, tmp_path: Path) -> None:
    real = connect.new_emulated_card
    cli.monkeypatch.setattr(connect, "new_emulated_card", real)
    cli.capsys.readouterr()
    rc = main(["card", "info", "--profile", str(tmp_path / "missing.json")])
    assert rc == 2
    assert "profile" in cli.capsys.readouterr().err


# --------------------------------------------------------------------------- fallback
class _FakePcsc:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls: list[object] = []

    def __call__(self, reader: object = None) -> Any:
        self.calls.append(reader)
        raise self.exc


def test_no_reader_falls_back_to_emulated_card(cli: Cli) -> None:
    fake = _FakePcsc(NoReaderError("no PC/SC reader is attached"))
    cli.monkeypatch.setattr(connect, "PcscTransport", fake)
    res = cli.run("card", "info", "--json")
    assert res.rc == 0
    assert "no reader found: using the built-in emulated card" in res.err
    assert res.json()["source"] == "emulated card 'mynumber-01'"
    assert fake.calls == [None]
    assert cli.cards_made == ["mynumber-01"]


def test_no_pcsc_service_falls_back(cli: Cli) -> None:
    exc = ReaderUnavailableError("SCardEstablishContext failed: SCARD_E_NO_SERVICE")
    exc.pcsc_code = 0x8010001D  # type: ignore[attr-defined]
    cli.monkeypatch.setattr(connect, "PcscTransport", _FakePcsc(exc))
    res = cli.run("card", "info")
    assert res.rc == 0 and "built-in emulated card" in res.err


def test_pyscard_missing_falls_back(cli: Cli) -> None:
    cli.monkeypatch.setattr(connect, "PcscTransport",
                            _FakePcsc(ReaderUnavailableError("pyscard is not installed")))
    assert cli.run("card", "info").rc == 0


@pytest.mark.parametrize(
    "exc",
    [
        CardRemovedError("no card in any of 2 reader(s)"),
        # a dead reader is a reader problem, not "no reader": no silent fallback
        type("E", (ReaderUnavailableError,), {"pcsc_code": 0x80100017})("reader unplugged"),
    ],
)
def test_reader_problems_do_not_fall_back(cli: Cli, exc: Exception) -> None:
    cli.monkeypatch.setattr(connect, "PcscTransport", _FakePcsc(exc))
    res = cli.run("card", "info")
    assert res.rc == 6
    assert "emulated" not in res.err
    assert cli.cards_made == []


def test_named_reader_never_falls_back(cli: Cli) -> None:
    fake = _FakePcsc(NoReaderError("no reader matches 'ACS'"))
    cli.monkeypatch.setattr(connect, "PcscTransport", fake)
    res = cli.run("card", "info", "--reader", "ACS")
    assert res.rc == 6 and "ACS" in res.err
    assert fake.calls == ["ACS"]
    assert cli.cards_made == []
    fake.calls.clear()
    assert cli.run("pin", "status", "--reader", "1").rc == 6
    assert fake.calls == [1]


# --------------------------------------------------------------------------- pin status
def test_pin_status_touches_no_counter(cli: Cli) -> None:
    card = cli.use()
    res = cli.run("pin", "status", "--emulated", "--json")
    assert res.rc == 0
    pins = {p["id"]: p for p in res.json()["pins"]}
    assert list(pins) == ["auth", "sign", "text", "text-match-a", "text-match-b",
                          "visual-match-a", "visual-match-b", "visual-birth"]
    assert pins["auth"] == {"id": "auth", "application": "jpki",
                            "name": "利用者証明用電子証明書暗証番号 (user-authentication PIN)",
                            "retries_left": 3, "max_tries": 3, "blocked": False}
    assert pins["sign"]["retries_left"] == 5
    assert card.stats.verify_with_data == 0
    assert card.stats.verify_status_queries == 8


def test_pin_status_shows_blocked(cli: Cli) -> None:
    cli.use(data=_with_tries("mynumber-01", "jpki", "0018", 0))
    res = cli.run("pin", "status", "--emulated")
    assert res.rc == 0
    line = [ln for ln in res.out.splitlines() if ln.startswith("auth")][0]
    assert "0/3" in line and "BLOCKED" in line
    assert "municipal counter" in res.err


# --------------------------------------------------------------------------- PIN errors
def test_wrong_pin_exit_3_with_retries(cli: Cli, pins: PinLedger) -> None:
    card = cli.use()
    res = cli.run("mynumber", "--emulated", "--pin-stdin", stdin=pins.submit("0000") + "\n")
    assert res.rc == 3
    assert "2 tries left" in res.err
    assert res.out == ""
    assert card.pin("text", 0x0011).tries_left == 2


def test_wrong_pin_with_json_gives_a_json_error_with_the_facts(
    cli: Cli, pins: PinLedger
) -> None:
    cli.use()
    res = cli.run("mynumber", "--emulated", "--pin-stdin", "--json",
                  stdin=pins.submit("0000") + "\n")
    assert res.rc == 3
    err = res.json()["error"]
    assert err["exit_code"] == 3 and err["type"] == "PinError"
    assert err["retries_left"] == 2 and err["sw"] == "63C2"
    assert "0000" not in res.out and "2 tries left" in res.err


def test_last_wrong_try_blocks_exit_3(cli: Cli, pins: PinLedger) -> None:
    cli.use(data=_with_tries("mynumber-01", "jpki", "0018", 1))
    res = cli.run("sign", "--emulated", "--pin-stdin", "--key", "auth", "--digest", "00" * 32,
                  stdin=pins.submit("0000") + "\n")
    assert res.rc == 3
    assert "blocked" in res.err and "municipal counter" in res.err


def test_blocked_pin_exit_3_without_asking(cli: Cli) -> None:
    card = cli.use(data=_with_tries("mynumber-01", "text", "0011", 0))
    res = cli.run("mynumber", "--emulated", "--pin-stdin", stdin="")  # nobody is asked
    assert res.rc == 3
    assert "blocked" in res.err
    assert card.stats.verify_with_data == 0


def test_pin_of_wrong_format_is_usage_error_and_not_sent(cli: Cli) -> None:
    card = cli.use()
    res = cli.run("mynumber", "--emulated", "--pin-stdin", stdin="12345\n")
    assert res.rc == 2
    assert "12345" not in res.err
    assert card.stats.verify_with_data == 0
    assert card.pin("text", 0x0011).tries_left == 3


def test_stdin_without_pin_is_usage_error(cli: Cli) -> None:
    res = cli.run("basic-info", "--emulated", "--pin-stdin", stdin="")
    assert res.rc == 2 and "stdin ended" in res.err


def test_no_terminal_and_no_pin_stdin(cli: Cli) -> None:
    from jukicard.cli import _common

    cli.monkeypatch.setattr(_common, "_terminal_available", lambda: False)
    res = cli.run("mynumber", "--emulated")
    assert res.rc == 2 and "--pin-stdin" in res.err


def test_terminal_prompt_goes_through_getpass(cli: Cli, pins: PinLedger) -> None:
    from jukicard.cli import _common

    prompts: list[str] = []

    def fake_getpass(prompt: str, stream: object = None) -> str:
        prompts.append(prompt)
        return pins.submit(PINS["text"])

    cli.monkeypatch.setattr(_common, "_terminal_available", lambda: True)
    cli.monkeypatch.setattr(_common.getpass, "getpass", fake_getpass)
    res = cli.run("mynumber", "--emulated")
    assert res.rc == 0 and res.out.strip() == MY_NUMBER
    assert prompts == [
        "券面事項入力補助用暗証番号 (card-details input-support PIN; 4 characters, 3 tries left): "]


def test_card_error_exit_4(cli: Cli) -> None:
    cli.use("juki-01")
    res = cli.run("mynumber", "--emulated", "--pin-stdin", stdin="1234\n")
    assert res.rc == 4
    assert "券面事項入力補助AP" in res.err


# --------------------------------------------------------------------------- personal data
def test_mynumber(cli: Cli, pins: PinLedger) -> None:
    res = cli.run("mynumber", "--emulated", "--pin-stdin", stdin=pins.submit("1234") + "\n")
    assert res.rc == 0, res.err
    assert res.out == MY_NUMBER + "\n"
    res = cli.run("mynumber", "--emulated", "--pin-stdin", "--json",
                  stdin=pins.submit("1234") + "\n")
    assert res.json() == {"my_number": MY_NUMBER, "signature_checked": True,
                          "signature_check": "card-key-only", **OWN_KEY_TRUST,
                          "card_source": EMULATED}
    res = cli.run("mynumber", "--emulated", "--pin-stdin", "--json", "--no-check-signature",
                  stdin=pins.submit("1234") + "\n")
    assert res.json() == {"my_number": MY_NUMBER, "signature_checked": False,
                          "signature_check": "not-checked", "trust_level": "not-checked",
                          "ca_key_id": None, "ca_kind": None, "ca_source": None,
                          "card_source": EMULATED}


def test_mynumber_with_signature_check(cli: Cli, pins: PinLedger) -> None:
    res = cli.run("mynumber", "--emulated", "--pin-stdin", "--check-signature", "--json",
                  stdin=pins.submit("1234") + "\n")
    assert res.rc == 0
    assert res.json() == {"my_number": MY_NUMBER, "signature_checked": True,
                          "signature_check": "card-key-only", **OWN_KEY_TRUST,
                          "card_source": EMULATED}


def test_basic_info(cli: Cli, pins: PinLedger) -> None:
    res = cli.run("basic-info", "--emulated", "--pin-stdin", stdin=pins.submit("1234") + "\n")
    assert res.rc == 0, res.err
    assert f"name:    {NAME}" in res.out
    assert "birth:   1995-03-02" in res.out and "sex:     female" in res.out
    assert MY_NUMBER not in res.out
    res = cli.run("basic-info", "--emulated", "--pin-stdin", "--json",
                  stdin=pins.submit("1234") + "\n")
    data = res.json()
    assert data["name"] == NAME and ADDRESS_PART in data["address"]
    assert data["birth"] == "1995-03-02" and data["sex"] == "female" and data["sex_code"] == 2


def test_basic_info_with_match_b(cli: Cli, pins: PinLedger) -> None:
    card = cli.use()
    res = cli.run("basic-info", "--emulated", "--pin-stdin", "--match-b", "--json",
                  stdin=pins.submit("07030220358304") + "\n")
    assert res.rc == 0, res.err
    assert res.json()["name"] == NAME
    assert res.json()["signature_checked"] is False  # 照合番号B cannot unlock the My Number
    assert card.pin("text", 0x0011).tries_left == 3  # the 4-digit PIN was not used


def test_basic_info_check_signature(cli: Cli, pins: PinLedger) -> None:
    res = cli.run("basic-info", "--emulated", "--pin-stdin", "--check-signature", "--json",
                  stdin=pins.submit("1234") + "\n")
    assert res.rc == 0
    assert res.json()["signature_checked"] is True
    assert cli.run("basic-info", "--emulated", "--match-b", "--check-signature").rc == 2


# --------------------------------------------------------------------------- cert export
def test_cert_export_auth_pem_to_stdout(cli: Cli) -> None:
    from cryptography import x509

    res = cli.run("cert", "export", "auth", "--emulated")
    assert res.rc == 0, res.err
    cert = x509.load_pem_x509_certificate(res.out.encode())
    assert cert.subject.rfc4514_string() == "CN=3916949683900943,C=JP"


def test_cert_export_sign_der_to_file(cli: Cli, pins: PinLedger, tmp_path: Path) -> None:
    from cryptography import x509

    out = tmp_path / "sign.der"
    res = cli.run("cert", "export", "sign", "--emulated", "--pin-stdin", "--format", "der",
                  "-o", str(out), stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    assert res.out == ""
    cert = x509.load_der_x509_certificate(out.read_bytes())
    assert "Chiyoda" in cert.subject.rfc4514_string()
    assert str(out) in res.err


def test_cert_export_json(cli: Cli, tmp_path: Path) -> None:
    res = cli.run("cert", "export", "sign-ca", "--emulated", "--json")
    data = res.json()
    assert data["certificate"] == "sign-ca" and data["pem"].startswith("-----BEGIN CERTIFICATE")
    res = cli.run("cert", "export", "auth-ca", "--emulated", "--json", "--format", "der")
    assert base64.b64decode(res.json()["der_base64"])[:1] == b"\x30"
    out = tmp_path / "ca.pem"
    res = cli.run("cert", "export", "auth-ca", "--emulated", "--json", "-o", str(out))
    assert res.json()["output"] == str(out) and out.read_bytes().startswith(b"-----BEGIN")


def test_cert_export_der_refuses_terminal_stdout(cli: Cli,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """DER is refused on a terminal only (a pipe or a file gets it: see
    ``test_cli_review.py``)."""
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    res = cli.run("cert", "export", "auth", "--emulated", "--format", "der")
    assert res.rc == 2 and "-o FILE" in res.err


def test_cert_export_sign_wrong_password(cli: Cli, pins: PinLedger) -> None:
    res = cli.run("cert", "export", "sign", "--emulated", "--pin-stdin",
                  stdin=pins.submit("WRONG1") + "\n")
    assert res.rc == 3 and "4 tries left" in res.err


def test_cert_export_missing_cert_on_juki_card(cli: Cli) -> None:
    cli.use("juki-01")
    res = cli.run("cert", "export", "auth", "--emulated")
    assert res.rc == 2 and "no 'auth' certificate" in res.err


# --------------------------------------------------------------------------- sign
def test_sign_file_and_verify(cli: Cli, pins: PinLedger, tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"counter document\n" * 1000)
    sig = tmp_path / "doc.sig"
    cert = tmp_path / "sign.pem"
    res = cli.run("sign", str(doc), "--emulated", "--pin-stdin", "-o", str(sig),
                  "--cert-out", str(cert), stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    assert res.out == ""
    assert len(sig.read_bytes()) == 256
    verified = verify_pkcs1v15(sig.read_bytes(), certificate=cert.read_bytes(),
                               message=doc.read_bytes())
    assert verified is not None


def test_sign_prints_base64_and_json(cli: Cli, pins: PinLedger, tmp_path: Path) -> None:
    from jukicard.services.data import to_pem

    doc = tmp_path / "d"
    doc.write_bytes(b"x")
    res = cli.run("sign", str(doc), "--emulated", "--pin-stdin", "--key", "auth",
                  stdin=pins.submit(PINS["auth"]) + "\n")
    assert res.rc == 0, res.err
    signature = base64.b64decode(res.out.strip())
    verify_pkcs1v15(signature, certificate=to_pem(_auth_cert_der(cli)), message=b"x")

    digest = bytes(range(48))
    res = cli.run("sign", "--digest", digest.hex(), "--hash", "sha384", "--emulated",
                  "--pin-stdin", "--json", "--key", "auth", stdin=pins.submit("1234") + "\n")
    data = res.json()
    assert data["key"] == "auth" and data["hash"] == "sha384"
    assert data["digest"] == digest.hex() and data["signature_bytes"] == 256
    verify_pkcs1v15(base64.b64decode(data["signature"]),
                    certificate=_auth_cert_der(cli), digest=digest, hash_alg="sha384")


def _auth_cert_der(cli: Cli) -> bytes:
    res = cli.run("cert", "export", "auth", "--emulated", "--json", "--format", "der")
    return base64.b64decode(res.json()["der_base64"])


def test_sign_bad_digest_is_usage_error_before_pin(cli: Cli) -> None:
    card = cli.use()
    res = cli.run("sign", "--digest", "abcd", "--emulated", "--pin-stdin", stdin="ABC123\n")
    assert res.rc == 2 and "32 bytes" in res.err
    assert card.stats.verify_with_data == 0
    assert cli.run("sign", "--digest", "zz", "--emulated", "--pin-stdin").rc == 2


def test_sign_usage_errors(cli: Cli, tmp_path: Path) -> None:
    assert cli.run("sign", str(tmp_path / "nope"), "--emulated", "--pin-stdin").rc == 2
    assert cli.run("sign", "-", "--emulated", "--pin-stdin").rc == 2
    assert cli.run("sign", "--emulated").rc == 2  # neither FILE nor --digest


def test_sign_on_juki_card(cli: Cli, pins: PinLedger, tmp_path: Path) -> None:
    cli.use("juki-01")
    doc = tmp_path / "d"
    doc.write_bytes(b"juki")
    res = cli.run("sign", str(doc), "--emulated", "--pin-stdin", "--json",
                  stdin=pins.submit(PINS["juki_sign"]) + "\n")
    assert res.rc == 0, res.err
    assert res.json()["signature_bytes"] == 128  # RSA-1024
    res = cli.run("sign", str(doc), "--emulated", "--pin-stdin", "--key", "auth", stdin="1234\n")
    assert res.rc == 2 and "no 'auth' key" in res.err


# --------------------------------------------------------------------------- pin change
def test_pin_change_auth(cli: Cli, pins: PinLedger) -> None:
    card = cli.use()
    res = cli.run("pin", "change", "auth", "--emulated", "--pin-stdin",
                  stdin=pins.submit("1234") + "\n5678\n")
    assert res.rc == 0, res.err
    # the PIN is named as residents know it (issue 8 review), not by its id
    assert res.out == "利用者証明用電子証明書暗証番号 (user-authentication PIN): changed\n"
    assert card.stats.change_reference_data == 1
    # the new PIN works, the old one no longer does
    res = cli.run("sign", "--digest", "00" * 32, "--key", "auth", "--emulated", "--pin-stdin",
                  stdin=pins.submit("5678") + "\n")
    assert res.rc == 0
    res = cli.run("sign", "--digest", "00" * 32, "--key", "auth", "--emulated", "--pin-stdin",
                  stdin=pins.submit("1234") + "\n")
    assert res.rc == 3 and "2 tries left" in res.err


def test_pin_change_sign_json(cli: Cli, pins: PinLedger) -> None:
    res = cli.run("pin", "change", "sign", "--emulated", "--pin-stdin", "--json",
                  stdin=pins.submit("abc123") + "\nnew456x\n")
    assert res.rc == 0, res.err
    assert res.json() == {"pin": "sign", "name": "署名用電子証明書暗証番号 (signature password)",
                          "changed": True, "card_source": EMULATED}


def test_pin_change_bad_new_pin_spends_nothing(cli: Cli) -> None:
    card = cli.use()
    res = cli.run("pin", "change", "sign", "--emulated", "--pin-stdin",
                  stdin="ABC123\n123456\n")  # new password without a letter
    assert res.rc == 2 and "letter" in res.err
    assert card.stats.verify_with_data == 0


def test_pin_change_wrong_current(cli: Cli, pins: PinLedger) -> None:
    card = cli.use()
    res = cli.run("pin", "change", "auth", "--emulated", "--pin-stdin",
                  stdin=pins.submit("9999") + "\n5678\n")
    assert res.rc == 3 and "2 tries left" in res.err
    assert card.stats.change_reference_data == 0


def test_pin_change_unknown_pin_rejected_by_parser(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pin", "change", "text", "--emulated"]) == 2
    assert "not a known id; use one of auth, sign" in capsys.readouterr().err


# --------------------------------------------------------------------------- emulator group
def test_emulator_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "profiles", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["profiles"]}
    assert rows["mynumber-01"]["card_type"] == "mynumber"
    assert rows["juki-01"]["card_type"] == "juki"
    assert main(["emulator", "profiles"]) == 0
    assert "mynumber-01" in capsys.readouterr().out


def test_emulator_serve_forwards_arguments(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # a profile that cannot be loaded: a usage error (2) before any network I/O
    rc = main(["emulator", "serve", "--profile", str(tmp_path / "none.json")])
    assert rc == 2
    assert "jukicard-emulator" in capsys.readouterr().err


# --------------------------------------------------------------------------- output files
@contextlib.contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Every write past ``limit`` bytes fails (EFBIG), like a full disk."""
    resource = pytest.importorskip("resource")
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, previous)


def test_sign_output_is_never_half_written(cli: Cli, pins: PinLedger, tmp_path: Path) -> None:
    sig = tmp_path / "doc.sig"
    sig.write_bytes(b"earlier signature")
    with _file_size_limit(100):
        res = cli.run("sign", "--digest", "00" * 32, "--emulated", "--pin-stdin", "-o", str(sig),
                      stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 1 and "doc.sig" in res.err and "NOT delivered" in res.err
    assert sig.read_bytes() == b"earlier signature"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.sig"]


def test_cert_export_output_is_never_half_written(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "auth.pem"
    with _file_size_limit(100):
        res = cli.run("cert", "export", "auth", "--emulated", "-o", str(out))
    assert res.rc == 1 and "auth.pem" in res.err and "NOT delivered" in res.err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_tampered_basic_info_is_exit_5_and_not_printed(cli: Cli, pins: PinLedger) -> None:
    """--check-signature on a card whose 基本4情報 EF was altered: reported as a failed
    check (exit 5, "tampered"), and nothing read is printed."""
    prof = profile_json("mynumber-01")
    entry = find_file(prof, "text", "0002")
    raw = bytearray.fromhex(entry["data"])
    raw[raw.index(NAME.encode("utf-8"))] ^= 0x01  # one bit of the name
    entry["data"] = raw.hex()
    cli.use(data=prof)
    res = cli.run("basic-info", "--emulated", "--pin-stdin", "--check-signature", "--json",
                  stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 5
    assert "tampered" in res.err and "basic info" in res.err
    assert res.json()["error"]["type"] == "DataIntegrityError"  # the error, no data
    assert NAME not in res.out and MY_NUMBER not in res.out
    res = cli.run("mynumber", "--emulated", "--pin-stdin", "--check-signature",
                  stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 5 and res.out == "" and MY_NUMBER not in res.err
    # the check is on by default: a counter user who forgets the flag is still told
    res = cli.run("basic-info", "--emulated", "--pin-stdin",
                  stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 5 and res.out == ""
