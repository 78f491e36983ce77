"""The findings of the independent review of issue 8 that involve a card (1, 2, 4, 10, 11,
12, 14, 16), each tested as the reviewer met it, against the in-process emulator.

Every test here fails on the code before the review (its docstring says how).  Hostile and
damaged cards are built from the synthetic profile ``mynumber-01`` in the test itself.  The
PIN ledger of ``conftest.py`` checks that every PIN reached the card exactly as often as the
test submitted it: a refused command spends nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from emulated_support import PINS, PinLedger, find_file, profile_json
from test_cli_compat import EXIT_ROWS, _pcsc_down, runner

from jukicard.card.codec import Sex
from jukicard.card.cvc import CvCertificate
from jukicard.card.text_data import BasicInfo, MyNumber, TextApSignature
from jukicard.cli import _common

ROOT = Path(__file__).resolve().parents[2]
PKI = ROOT / "vectors" / "pki"
JLIS_ROOT = PKI / "cv" / "jlis-root.cvc"
MY_NUMBER = "201867807611"  # synthetic test card mynumber-01 (vectors/cards/README.md)
ESC = "\x1b"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Any:
    return runner(monkeypatch, capsys, tmp_path)


def _run_with_stdin(stdin: Any, monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``jukicard ARGV`` with this stdin object (the runner would replace it with text)."""
    from jukicard.cli.main import main

    monkeypatch.setattr(sys, "stdin", stdin)
    capsys.readouterr()
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _card(tmp_path: Path, name: str, **files: str) -> str:
    """A profile file: mynumber-01 with EFs replaced (``"text/0001": hex``)."""
    prof = profile_json("mynumber-01")
    for where, data in files.items():
        app, fid = where.split("/")
        find_file(prof, app, fid)["data"] = data
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(prof), encoding="utf-8")
    return str(path)


def _ef(prof_app: str, fid: str) -> bytes:
    return bytes.fromhex(find_file(profile_json("mynumber-01"), prof_app, fid)["data"])


# --------------------------------------------------------------------------- finding 1
def test_damaged_card_data_is_exit_5_not_card_refused(run: Any, pins: PinLedger,
                                                      tmp_path: Path) -> None:
    """Finding 1: a My Number with a wrong check digit (``--no-check-signature``), a
    truncated 基本4情報 EF and a truncated certificate EF gave exit 4 "the card refused the
    operation" with SW 9000.  The card answered, with data that cannot be right: exit 5,
    and a hint that says so."""
    wrong_digit = _ef("text", "0001").replace(MY_NUMBER.encode(), b"201867807612").hex()
    basic = _ef("text", "0002")
    cert = _ef("jpki", "000A")
    cases = [
        (("mynumber", "--no-check-signature"), {"text/0001": wrong_digit}, True),
        (("basic-info", "--no-check-signature"), {"text/0002": basic[:40].hex()}, True),
        (("cert", "export", "auth"), {"jpki/000A": cert[:300].hex()}, False),
    ]
    for i, (argv, files, pin) in enumerate(cases):
        stdin = pins.submit(PINS["text"]) + "\n" if pin else ""
        res = run(*argv, "--profile", _card(tmp_path, f"damaged{i}", **files), "--pin-stdin",
                  "--json", stdin=stdin)
        assert res.rc == 5, (argv, res.err)
        err = res.json()["error"]
        assert err["exit_code"] == 5 and err["sw"] == "9000"
        assert "refused" not in res.err and "damaged or has been tampered with" in res.err


def test_hints_are_true_for_their_error(run: Any, pins: PinLedger,
                                        monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    """Finding 1: ``mynumber`` on a 住基カード said "the card refused the operation"; PC/SC
    down and an empty reader said "check the card is placed"; a blocked PIN did not name
    the kiosk; a wrong PIN read "wrong PIN, 2 tries left (wrong PIN)"."""
    res = run("mynumber", "--profile", "juki-01", "--pin-stdin", stdin="1234\n")
    assert res.rc == 4 and "does not have the application" in res.err
    assert "refused the operation" not in res.err

    res = run("pin", "verify", "auth", "--emulated", "--pin-stdin",
              stdin=pins.submit("0000") + "\n")
    assert res.rc == 3 and res.err.count("wrong PIN") == 1 and "2 tries left" in res.err
    assert "(wrong PIN)" not in res.err

    prof = profile_json("mynumber-01")
    find_file(prof, "jpki", "0018")["tries_left"] = 0
    (tmp_path / "blocked.json").write_text(json.dumps(prof), encoding="utf-8")
    res = run("pin", "verify", "auth", "--profile", tmp_path / "blocked.json", "--pin-stdin",
              stdin="1234\n")
    assert res.rc == 3 and "municipal counter" in res.err and "kiosk" in res.err

    from jukicard.errors import CardRemovedError
    from jukicard.services import connect

    def empty(reader: object = None) -> Any:
        raise CardRemovedError("no card in any reader")

    monkeypatch.setattr(connect, "PcscTransport", empty)
    res = run("card", "info")
    assert res.rc == 6 and "place the card on the reader" in res.err
    _pcsc_down(monkeypatch)
    res = run("mynumber", "--pin-stdin", stdin="1234\n")
    assert res.rc == 6 and "the PC/SC service or the reader is not available" in res.err


@pytest.mark.parametrize("row", [r for r in EXIT_ROWS if r.review is not None
                                 and not r.issue9],  # changed again by issue 9: own test
                         ids=lambda r: r.id)
def test_contract_rows_changed_by_the_review(run: Any, pins: PinLedger,
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             row: Any) -> None:
    """The rows of the CLI contract table (``test_cli_compat.py``) that a review finding
    changed on purpose, with their new exit code (``row.old`` before the review)."""
    extra = row.setup(monkeypatch, tmp_path) if row.setup else ()
    for line in row.stdin.splitlines():
        pins.submit(line)  # each row's PIN reaches the card once
    res = run(*row.argv, *extra, stdin=row.stdin)
    assert res.rc == row.rc != row.old, res.err
    assert "Traceback" not in res.err


# --------------------------------------------------------------------------- finding 2
@pytest.mark.parametrize("argv", [
    ("pin", "verify", "auth", "918273"),
    ("basic-info", "--match-b", "07030220358304"),
    ("sign", "doc", "ABC123"),
    ("pin", "verify", "auth", "--pin", "918273"),
    ("918273",),
    ("card", "info", "--918273"),
], ids=["pin-verify", "match-b", "sign", "--pin", "command", "option"])
def test_a_pin_on_the_command_line_is_never_repeated(run: Any, pins: PinLedger,
                                                     argv: tuple[str, ...]) -> None:
    """Finding 2: "Got unexpected extra argument (07030220358304)" (also "No such command
    '…'") put the PIN typed on the command line on stderr and in the JSON error.  Now the
    value is not repeated and the message says where PINs go."""
    secret = next(a.lstrip("-") for a in argv if a.lstrip("-").isdigit() or a == "ABC123")
    res = run(*argv, "--json")
    assert res.rc == 2
    assert secret not in res.err and secret not in res.out
    assert "--pin-stdin" in res.json()["error"]["message"]
    assert pins.cards == []


# --------------------------------------------------------------------------- finding 4
def test_the_refusal_names_the_file_that_switched_the_fallback_off(
        run: Any, monkeypatch: pytest.MonkeyPatch, pins: PinLedger, tmp_path: Path) -> None:
    """Finding 4/14: the refusal named "(JUKICARD_EMULATED_FALLBACK / /etc/...)" whatever
    switched the fallback off; now the file actually used, and the JSON error says
    ``"fallback": "refused"``."""
    _pcsc_down(monkeypatch)
    conf = tmp_path / "site.conf"
    conf.write_text("[connect]\nemulated_fallback = off\n", encoding="utf-8")
    monkeypatch.setenv("JUKICARD_CONFIG", str(conf))
    res = run("card", "info", "--json")
    assert res.rc == 6 and pins.cards == []
    assert f"switched off by {conf}" in res.err
    assert res.json()["error"]["fallback"] == "refused"


def test_a_broken_switch_is_a_usage_error_naming_the_file(
        run: Any, monkeypatch: pytest.MonkeyPatch, pins: PinLedger, tmp_path: Path) -> None:
    """Finding 4: ``emulated_fallback = off%`` crashed with configparser's
    ``InterpolationSyntaxError`` (exit 1); a ``JUKICARD_CONFIG`` naming a missing file left
    the fallback on (exit 0 on the test card)."""
    _pcsc_down(monkeypatch)
    conf = tmp_path / "site.conf"
    conf.write_text("[connect]\nemulated_fallback = off%\n", encoding="utf-8")
    monkeypatch.setenv("JUKICARD_CONFIG", str(conf))
    res = run("card", "info")
    assert res.rc == 2 and str(conf) in res.err and "Interpolation" not in res.err
    monkeypatch.setenv("JUKICARD_CONFIG", str(tmp_path / "missing.conf"))
    res = run("pin", "status")
    assert res.rc == 2 and "does not exist" in res.err and pins.cards == []


def test_help_documents_the_fallback_rule(run: Any) -> None:
    """Finding 4: ``--help`` described an order (the variable wins) the switch must not have;
    now it states the fail-closed rule."""
    res = run("--help")
    assert "fails closed" in res.out and "ANY of these says off" in res.out
    assert "read as well, not instead" in res.out


# --------------------------------------------------------------------------- finding 10
def _hostile_certificate() -> str:
    key = serialization.load_pem_private_key((PKI / "keys/ee-r1-auth.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    name = x509.Name([x509.NameAttribute(
        NameOID.COMMON_NAME, f"ok{ESC}]0;PWNED{chr(7)}{ESC}[2J{ESC}[1;31mCARD VALID{ESC}[0m")])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER).hex()


def test_card_data_cannot_drive_the_terminal(run: Any, pins: PinLedger, tmp_path: Path) -> None:
    """Finding 10: ESC sequences in a certificate subject cleared the screen and printed
    "CARD VALID"; ESC, CR and U+202E in the name and address rewrote the lines printed.  Now
    every text line shows them as escapes (JSON keeps the value exact)."""
    res = run("card", "info", "--profile", _card(tmp_path, "hostile", **{
        "jpki/000A": _hostile_certificate()}))
    assert res.rc == 0, res.err
    assert ESC not in res.out and chr(7) not in res.out
    # the RFC 4514 backslash before ';' is doubled: escape() escapes backslashes (review 2)
    assert "CN=ok\\x1b]0\\\\;PWNED\\x07\\x1b[2J" in res.out

    info = BasicInfo(f"偽造{ESC}[1A{ESC}[2K\rname:    本物", "東京都\u202e1-2-3",
                     dt.date(1980, 1, 1), Sex.MALE)
    path = _card(tmp_path, "forged-esc", **{"text/0002": bytes(info).hex()})
    res = run("basic-info", "--profile", path, "--pin-stdin", "--no-check-signature",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    assert ESC not in res.out and "\r" not in res.out and "\u202e" not in res.out
    assert res.out.splitlines()[0] == "name:    偽造\\x1b[1A\\x1b[2K\\x0dname:    本物"
    assert "東京都\\u202e1-2-3" in res.out
    res = run("basic-info", "--profile", path, "--pin-stdin", "--no-check-signature", "--json",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.json()["name"] == info.name  # JSON: the exact value, escaped by JSON itself


def test_notices_escape_file_names(run: Any, tmp_path: Path) -> None:
    """Finding 10: the "written to <path>" notice printed the file name raw."""
    out = tmp_path / f"auth{ESC}[2J.pem"
    res = run("cert", "export", "auth", "--emulated", "-o", out)
    assert res.rc == 0, res.err
    assert ESC not in res.err and "auth\\x1b[2J.pem" in res.err
    assert out.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


# --------------------------------------------------------------------------- finding 11
def test_a_pin_line_that_is_not_utf8_shows_nothing_of_the_pin(
        run: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        pins: PinLedger) -> None:
    """Finding 11: ``printf '12\\xe934\\n' | jukicard pin verify auth --pin-stdin --json``
    exited 1 with "UnicodeDecodeError … byte 0xe9 in position 2": a byte of the PIN and
    where it was.  Now a usage error that shows nothing of the value, nothing is sent."""
    stdin = io.TextIOWrapper(io.BytesIO(b"12\xe934\n"), encoding="utf-8")
    rc, out, err = _run_with_stdin(stdin, monkeypatch, capsys, "pin", "verify", "auth",
                                   "--emulated", "--pin-stdin", "--json")
    assert rc == 2
    assert "not UTF-8" in json.loads(out)["error"]["message"]
    for text in ("0xe9", "xe9", "position", "UnicodeDecodeError"):
        assert text not in out and text not in err
    assert all(c.stats.verify_with_data == 0 for c in pins.cards)


def test_a_pin_line_is_read_to_a_cap(run: Any, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str],
                                     pins: PinLedger) -> None:
    """Finding 11: a PIN line was read whole (a 300 MB line took 624 MB).  Now at most
    ``MAX_PIN_LINE + 1`` (257) bytes are read and the line is refused."""
    raw = io.BytesIO(b"1" * 100_000 + b"\n")
    rc, _out, err = _run_with_stdin(io.TextIOWrapper(raw, encoding="utf-8"), monkeypatch,
                                    capsys, "pin", "verify", "auth", "--emulated", "--pin-stdin")
    assert rc == 2 and "longer than 256 bytes" in err  # _common.MAX_PIN_LINE
    assert raw.tell() <= 256 + 1
    assert all(c.stats.verify_with_data == 0 for c in pins.cards)


def test_pin_stdin_on_a_terminal_uses_the_hidden_prompt(
        run: Any, pins: PinLedger, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 11: ``--pin-stdin`` on a terminal read the PIN as the terminal echoed it,
    with no prompt.  Now the hidden prompt is used, and the operator is told so once."""
    prompts: list[str] = []

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    def fake_getpass(prompt: str, stream: object = None) -> str:
        prompts.append(prompt)
        return pins.submit(PINS["auth"])

    monkeypatch.setattr(_common.getpass, "getpass", fake_getpass)
    monkeypatch.setattr(_common, "_terminal_available", lambda: True)
    rc, _out, err = _run_with_stdin(Tty(""), monkeypatch, capsys, "pin", "verify", "auth",
                                    "--emulated", "--pin-stdin")
    assert rc == 0, err
    assert len(prompts) == 1 and "利用者証明用電子証明書暗証番号" in prompts[0]
    assert err.count("stdin is a terminal") == 1


# --------------------------------------------------------------------------- finding 12
def _forged_card(tmp_path: Path) -> str:
    """The text AP re-signed by a forger with a CV certificate of the forger's own key."""
    key = serialization.load_pem_private_key((PKI / "keys/ee-r2-sign.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    number = bytes(MyNumber("123456789018"))
    basic = bytes(BasicInfo("偽造 太郎", "東京都偽区1-1", dt.date(1980, 1, 1), Sex.MALE))
    signature = bytes(TextApSignature.create(number, basic, key))
    cv = bytes(CvCertificate.create(b"X" * 16, b"Y" * 16, key.public_key(), key))
    return _card(tmp_path, "forged", **{"text/0001": number.hex(), "text/0002": basic.hex(),
                                        "text/0003": signature.hex(), "text/0004": cv.hex()})


@pytest.mark.parametrize("command", ["mynumber", "basic-info"])
def test_a_trusted_issuer_key_tells_a_forged_card(run: Any, pins: PinLedger, tmp_path: Path,
                                                  command: str) -> None:
    """Finding 12: a card re-signed with the forger's own CV certificate passed the check
    ("card-key-only") and nothing in the CLI could tell it from a genuine one.  Now
    ``--issuer-key`` names the trusted CV issuer key: the genuine test card is
    ``trusted-issuer``, the forged one fails with exit 5."""
    res = run(command, "--emulated", "--pin-stdin", "--issuer-key", JLIS_ROOT, "--json",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    assert res.json()["signature_check"] == "trusted-issuer"
    assert res.json()["signature_checked"] is True
    forged = _forged_card(tmp_path)
    res = run(command, "--profile", forged, "--pin-stdin", "--json",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0 and res.json()["signature_check"] == "card-key-only"
    # review 2: the CV certificate is checked before the PIN is asked: the PIN is not spent
    res = run(command, "--profile", forged, "--pin-stdin", "--issuer-key", JLIS_ROOT, "--json",
              stdin=PINS["text"] + "\n")
    assert res.rc == 5 and res.json()["error"]["type"] == "DataIntegrityError"
    assert "123456789018" not in res.out and "偽造" not in res.out


def test_the_issuer_key_may_be_a_pem_public_key(run: Any, pins: PinLedger,
                                                tmp_path: Path) -> None:
    """Finding 12: the option takes a PEM RSA public key as well as a CV certificate."""
    pem = tmp_path / "jlis.pem"
    pem.write_bytes(CvCertificate.parse(JLIS_ROOT.read_bytes()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    res = run("mynumber", "--emulated", "--pin-stdin", "--issuer-key", pem, "--json",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0 and res.json()["signature_check"] == "trusted-issuer"
    res = run("mynumber", "--emulated", "--pin-stdin", "--issuer-key",
              PKI / "ca/sign-2023.cer", "--json", stdin="1234\n")
    assert res.rc == 2 and res.json()["error"]["option"] == "--issuer-key"


def test_without_an_issuer_key_the_text_output_says_what_was_checked(
        run: Any, pins: PinLedger) -> None:
    """Finding 12: the text output did not say that the data was checked against the
    card's own key only; now it says so once, on stderr (stdout holds only the data)."""
    res = run("mynumber", "--emulated", "--pin-stdin", stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0 and res.out == MY_NUMBER + "\n"
    assert res.err.count("checked against the card's own key only") == 1
    res = run("mynumber", "--emulated", "--pin-stdin", "--issuer-key", JLIS_ROOT,
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0 and "own key only" not in res.err


def test_the_help_documents_both_signature_fields(run: Any) -> None:
    """Finding 12: the help did not say what ``signature_checked`` and ``signature_check``
    mean."""
    for command in ("mynumber", "basic-info"):
        text = " ".join(run(command, "--help").out.split())
        assert '"signature_checked" is true when the check ran' in text
        assert '"trusted-issuer"' in text and '"card-key-only"' in text


# --------------------------------------------------------------------------- finding 14
def test_the_card_source_names_the_profile_path(run: Any, tmp_path: Path) -> None:
    """Finding 14: ``card_source.name`` was the profile's internal name (``mynumber-01``)
    for any ``--profile PATH``; now the path given, and the name beside it."""
    path = _card(tmp_path, "copy")
    res = run("card", "info", "--profile", path, "--json")
    assert res.json()["card_source"] == {"kind": "emulated", "name": path, "fallback": False,
                                         "profile": "mynumber-01"}


def test_text_output_says_the_card_is_a_test_card(run: Any) -> None:
    """Finding 14: ``card info`` did not say the card was the TEST card; ``pin status``
    did not say which card it read."""
    res = run("card", "info", "--emulated")
    assert "source:       emulated card 'mynumber-01' — TEST card" in res.out
    res = run("pin", "status", "--emulated")
    assert "jukicard: card: emulated card 'mynumber-01' — TEST card" in res.err
    assert "TEST" not in res.out


def test_a_refused_fallback_says_so_in_the_json_error(
        run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 14: the error JSON of a command that would not use the test card did not
    say so."""
    _pcsc_down(monkeypatch)
    res = run("mynumber", "--pin-stdin", "--json", stdin="1234\n")
    assert res.rc == 6 and res.json()["error"]["fallback"] == "refused"


# --------------------------------------------------------------------------- finding 16
def test_cert_export_refusal_says_what_it_does(run: Any, monkeypatch: pytest.MonkeyPatch,
                                               pins: PinLedger) -> None:
    """Finding 16: ``cert export auth`` with no reader said it "reads personal data, spends
    a PIN or signs": it does none of these."""
    _pcsc_down(monkeypatch)
    res = run("cert", "export", "auth")
    assert res.rc == 6 and pins.cards == []
    assert "exports a certificate" in res.err and "personal data" not in res.err


def test_card_info_aligns_an_8_byte_aid() -> None:
    """Finding 16: the application column assumed 10-byte AIDs."""
    from jukicard.cli.card import format_info
    from jukicard.services.info import ApplicationSummary, CardInfo

    info = CardInfo("emulated card 'x'", b"\x3b\x00", "mynumber", (
        ApplicationSummary("jpki", "公的個人認証AP", bytes.fromhex("D392F000260100000001")),
        ApplicationSummary("short", "8-byte AP", bytes.fromhex("A000000001020304"))),
        None, (), dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    rows = [r for r in format_info(info).splitlines() if r.startswith("  ")]
    assert rows[0].index("公的") == rows[1].index("8-byte")
