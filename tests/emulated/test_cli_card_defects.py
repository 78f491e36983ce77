"""The CLI defects of issue 8 that involve a card (1, 2, 3, 5, 11), each tested as a user
would meet it, against the in-process emulator.

Every test here fails on the argparse CLI that issue 8 replaced (its docstring says how);
the rows of ``test_cli_compat.py`` marked with a defect are asserted here with the new
behaviour.  The PIN ledger of ``conftest.py`` checks every PIN reached the card exactly as
often as the test submitted it: a refused command spends nothing.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from emulated_support import PINS, PinLedger, find_file, profile_json
from test_cli_compat import EXIT_ROWS, Run, _pcsc_down, runner

from jukicard.emulator.cardos import CardOS

ROOT = Path(__file__).resolve().parents[2]
PKI = ROOT / "vectors" / "pki"
DIGEST = "00" * 32


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Any:
    return runner(monkeypatch, capsys, tmp_path)


@pytest.fixture
def cards(monkeypatch: pytest.MonkeyPatch) -> list[CardOS]:
    """Every emulated card the commands make (the built-in one included)."""
    made: list[CardOS] = []
    original = CardOS.__init__

    def init(self: CardOS, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(CardOS, "__init__", init)
    return made


def _profile(tmp_path: Path, app: str = "text", fid: str = "0011",
             tries: int | None = None) -> str:
    prof = profile_json("mynumber-01")
    if tries is not None:
        find_file(prof, app, fid)["tries_left"] = tries
    path = tmp_path / f"card-{app}-{fid}-{tries}.json"
    path.write_text(json.dumps(prof), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- defect 1
def test_output_through_a_symlink_keeps_the_link(run: Any, pins: PinLedger,
                                                 tmp_path: Path) -> None:
    """Defect 1: ``-o link`` replaced the symlink with a regular file (the atomic rename
    went over the link); now the file it points to is replaced and the link stays."""
    target = tmp_path / "real.sig"
    target.write_bytes(b"old")
    link = tmp_path / "link.sig"
    link.symlink_to(target)
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", link,
              stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(target.read_bytes()) == 256


def test_output_to_a_symlink_to_dev_null(run: Any, tmp_path: Path) -> None:
    """Defect 1: ``-o`` naming (a link to) ``/dev/null`` replaced it with a regular file;
    now the bytes are written through and the link still points at the device."""
    link = tmp_path / "null"
    link.symlink_to(os.devnull)
    res = run("cert", "export", "auth", "--emulated", "-o", link)
    assert res.rc == 0, res.err
    assert link.is_symlink() and stat.S_ISCHR(os.stat(link).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "none.conf") == ["null"]


def test_output_to_a_fifo_is_written_through(run: Any, tmp_path: Path) -> None:
    """Defect 1: ``-o FIFO`` replaced the FIFO with a regular file, so the reader at the
    other end got nothing; now the certificate goes down the FIFO."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there: no blocking
    try:
        res = run("cert", "export", "auth-ca", "--emulated", "--format", "der", "-o", fifo)
        assert res.rc == 0, res.err
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
        received = os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert received[:1] == b"\x30" and len(received) > 500


# --------------------------------------------------------------------------- defect 2
PERSONAL = [
    ("mynumber", ("mynumber", "--pin-stdin"), "1234\n"),
    ("basic-info", ("basic-info", "--pin-stdin"), "1234\n"),
    ("sign", ("sign", "--digest", DIGEST, "--pin-stdin"), "ABC123\n"),
    ("cert export sign", ("cert", "export", "sign", "--pin-stdin"), "ABC123\n"),
    ("cert export auth", ("cert", "export", "auth"), ""),
    ("pin change", ("pin", "change", "auth", "--pin-stdin"), "1234\n5678\n"),
    ("pin verify", ("pin", "verify", "auth", "--pin-stdin"), "1234\n"),
]


@pytest.mark.parametrize(("name", "argv", "stdin"), PERSONAL, ids=[p[0] for p in PERSONAL])
def test_personal_data_and_pin_commands_never_fall_back(
    run: Any, monkeypatch: pytest.MonkeyPatch, cards: list[CardOS], name: str,
    argv: tuple[str, ...], stdin: str
) -> None:
    """Defect 2: with PC/SC down these commands silently used the built-in test card
    (exit 0, the test persona's My Number, a signature by the test key).  Now: exit 6, no
    card made, no PIN read, and stderr says that --emulated gives the test card."""
    _pcsc_down(monkeypatch)
    res = run(*argv, "--json", stdin=stdin)
    assert res.rc == 6, res.err
    assert cards == []
    assert "--emulated" in res.err and "using the built-in emulated card" not in res.err
    assert res.json()["error"]["exit_code"] == 6
    assert sys.stdin.read() == stdin  # no PIN was read


@pytest.mark.parametrize("row", [r for r in EXIT_ROWS if r.defect == 2], ids=lambda r: r.id)
def test_compat_rows_of_defect_2(run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 row: Any) -> None:
    """The rows of the contract table that defect 2 changes (old: 0, new: 6)."""
    extra = row.setup(monkeypatch, tmp_path) if row.setup else ()
    assert run(*row.argv, *extra, stdin=row.stdin).rc == row.rc != row.old


@pytest.mark.parametrize("command", [("card", "info"), ("pin", "status")])
def test_demo_commands_still_fall_back_and_say_so(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                  command: tuple[str, ...]) -> None:
    """Defect 2: the read-only demo commands keep the fallback, and their JSON says the
    card is the emulated one, used as a fallback (old: no ``card_source``)."""
    _pcsc_down(monkeypatch)
    res = run(*command, "--json")
    assert res.rc == 0, res.err
    assert "using the built-in emulated card" in res.err
    assert res.json()["card_source"] == {"kind": "emulated", "name": "mynumber-01",
                                         "fallback": True, "profile": "mynumber-01"}


@pytest.mark.parametrize("switch", ["env", "config"])
def test_a_deployment_switches_the_fallback_off(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                cards: list[CardOS], tmp_path: Path,
                                                switch: str) -> None:
    """Defect 2: a deployment can switch the fallback off entirely
    (``JUKICARD_EMULATED_FALLBACK=off`` or ``[connect] emulated_fallback = off``); old code
    fell back whatever the environment said."""
    _pcsc_down(monkeypatch)
    if switch == "env":
        monkeypatch.setenv("JUKICARD_EMULATED_FALLBACK", "off")
    else:
        conf = tmp_path / "jukicard.conf"
        conf.write_text("[connect]\nemulated_fallback = off\n", encoding="utf-8")
        monkeypatch.setenv("JUKICARD_CONFIG", str(conf))
    res = run("card", "info")
    assert res.rc == 6 and cards == []
    assert "switched off" in res.err
    assert run("card", "info", "--emulated").rc == 0  # asking for it still works


CARD_JSON = [
    ("card", "info"), ("pin", "status"), ("cert", "export", "auth"),
    ("cert", "export", "sign", "--pin-stdin", "!sign"), ("sign", "--digest", DIGEST,
                                                          "--pin-stdin", "!sign"),
    ("mynumber", "--pin-stdin", "!text"), ("basic-info", "--pin-stdin", "!text"),
    ("pin", "change", "auth", "--pin-stdin", "!auth", "+1234"),
    ("pin", "verify", "text", "--pin-stdin", "!text"),
]


@pytest.mark.parametrize("argv", CARD_JSON, ids=lambda a: " ".join(a[:2]))
def test_every_card_json_output_names_the_card_source(run: Any, pins: PinLedger,
                                                      argv: tuple[str, ...]) -> None:
    """Defect 2: the JSON of every card command says which card was used (old: nothing
    told the test card from a resident's card)."""
    words = [a for a in argv if a[0] not in "!+"]
    stdin = "".join(pins.submit(PINS[a[1:]]) + "\n" if a[0] == "!" else a[1:] + "\n"
                    for a in argv if a[0] in "!+")
    res = run(*words, "--emulated", "--json", stdin=stdin)
    assert res.rc == 0, res.err
    assert res.json()["card_source"] == {"kind": "emulated", "name": "mynumber-01",
                                         "fallback": False, "profile": "mynumber-01"}


def test_error_json_names_the_card_source(run: Any, pins: PinLedger) -> None:
    """Defect 2: a failure after the card was opened says which card it was."""
    res = run("mynumber", "--emulated", "--pin-stdin", "--json",
              stdin=pins.submit("0000") + "\n")
    assert res.rc == 3
    assert res.json()["error"]["card_source"]["kind"] == "emulated"


# --------------------------------------------------------------------------- defect 3
def _sign_and_export(run: Any, pins: PinLedger, tmp_path: Path, *sign_args: str) -> Run:
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"counter document\n" * 100)
    res = run("sign", doc, "--emulated", "--pin-stdin", "--cert-out", tmp_path / "sign.pem",
              *sign_args, stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    return res


@pytest.mark.parametrize("form", ["base64", "json", "raw"])
def test_signature_verify_accepts_what_sign_writes(run: Any, pins: PinLedger, tmp_path: Path,
                                                   form: str) -> None:
    """Defect 3: ``sign``'s default output (base64 on stdout) and its ``--json`` object were
    rejected by ``signature verify`` as bad signatures; raw bytes (``-o``) worked."""
    sig = tmp_path / "doc.sig"
    if form == "raw":
        _sign_and_export(run, pins, tmp_path, "-o", str(sig))
    else:
        res = _sign_and_export(run, pins, tmp_path, *(("--json",) if form == "json" else ()))
        sig.write_text(res.out, encoding="utf-8")
    res = run("signature", "verify", tmp_path / "doc.txt", sig, "--cert",
              tmp_path / "sign.pem", "--json")
    assert res.rc == 0, res.out
    data = res.json()
    assert data["valid"] is True and data["signature"]["hash"] == "sha256"
    assert data["signature"]["encoding"] == form


def test_signature_verify_reads_the_hash_from_the_signature(run: Any, pins: PinLedger,
                                                            tmp_path: Path) -> None:
    """Defect 3: a SHA-512 signature by ``sign --hash sha512`` needed ``--hash sha512``
    (without it: "bad signature"); an explicit, different ``--hash`` is an error."""
    res = _sign_and_export(run, pins, tmp_path, "--hash", "sha512")
    (tmp_path / "sig.b64").write_text(res.out, encoding="utf-8")
    argv = ("signature", "verify", tmp_path / "doc.txt", tmp_path / "sig.b64", "--cert",
            tmp_path / "sign.pem", "--json")
    res = run(*argv)
    assert res.rc == 0 and res.json()["signature"]["hash"] == "sha512"
    res = run(*argv, "--hash", "sha256")
    assert res.rc == 5 and res.json()["reason"] == "bad-signature"
    assert "sha512" in res.json()["message"]


@pytest.mark.parametrize("row", [r for r in EXIT_ROWS if r.defect == 3], ids=lambda r: r.id)
def test_compat_rows_of_defect_3(run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 row: Any) -> None:
    extra = row.setup(monkeypatch, tmp_path) if row.setup else ()
    argv = list(row.argv)
    argv[2:2] = extra  # FILE SIG right after "signature verify"
    assert run(*argv).rc == row.rc != row.old


# --------------------------------------------------------------------------- defect 5
def test_sign_refuses_to_replace_the_document(run: Any, cards: list[CardOS],
                                              tmp_path: Path) -> None:
    """Defect 5: ``sign f -o f`` replaced the document with its signature; now refused
    before the card is touched or the PIN read, also through a hard link or a symlink."""
    doc = tmp_path / "doc"
    doc.write_bytes(b"the document")
    os.link(doc, tmp_path / "hard")
    (tmp_path / "soft").symlink_to(doc)
    for out in (doc, tmp_path / "hard", tmp_path / "soft", tmp_path / "." / "doc"):
        res = run("sign", doc, "--emulated", "--pin-stdin", "-o", out, stdin="ABC123\n")
        assert res.rc == 2, res.err
        assert "document" in res.err and "-o" in res.err
        assert sys.stdin.read() == "ABC123\n"  # the PIN was not read
    assert doc.read_bytes() == b"the document"
    assert all(c.stats.verify_with_data == 0 for c in cards)


def test_sign_refuses_equal_output_and_cert_out(run: Any, cards: list[CardOS],
                                                tmp_path: Path) -> None:
    """Defect 5: ``-o x --cert-out x`` wrote the signature, then the certificate over it."""
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", tmp_path / "x",
              "--cert-out", tmp_path / "x", stdin="ABC123\n")
    assert res.rc == 2 and "--cert-out" in res.err and "-o" in res.err
    assert not (tmp_path / "x").exists()
    assert all(c.stats.verify_with_data == 0 for c in cards)


def test_an_unwritable_output_is_refused_before_the_pin_is_spent(
    run: Any, cards: list[CardOS], tmp_path: Path
) -> None:
    """Defect 5: the output path was checked only after the PIN had been spent."""
    for out in (tmp_path / "missing" / "sig", tmp_path):
        res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", out,
                  stdin="ABC123\n")
        assert res.rc == 2, res.err
    assert all(c.stats.verify_with_data == 0 for c in cards)


def test_overwriting_keeps_the_file_mode(run: Any, pins: PinLedger, tmp_path: Path) -> None:
    """Defect 5: replacing a 0600 signature file left a 0644 one (umask 022)."""
    sig = tmp_path / "doc.sig"
    sig.write_bytes(b"old")
    sig.chmod(0o600)
    old_umask = os.umask(0o022)
    try:
        res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", sig,
                  stdin=pins.submit(PINS["sign"]) + "\n")
    finally:
        os.umask(old_umask)
    assert res.rc == 0, res.err
    assert stat.S_IMODE(sig.stat().st_mode) == 0o600 and len(sig.read_bytes()) == 256


# --------------------------------------------------------------------------- defect 11
def test_one_try_left_is_singular(run: Any, pins: PinLedger, tmp_path: Path) -> None:
    """Defect 11: "1 tries left".  The message names the PIN through the one wording
    helper (``jukicard.cli._common.pin_label``)."""
    from jukicard.card import TextPin
    from jukicard.cli._common import pin_label

    res = run("mynumber", "--profile", _profile(tmp_path, tries=2), "--pin-stdin",
              stdin=pins.submit("0000") + "\n")
    assert res.rc == 3
    assert f"{pin_label(TextPin.PIN.value)}: wrong PIN, 1 try left" in res.err
    assert "1 tries" not in res.err


def test_prompt_says_one_try_left(run: Any, monkeypatch: pytest.MonkeyPatch, pins: PinLedger,
                                  tmp_path: Path) -> None:
    """Defect 11: the terminal prompt said "1 tries left"."""
    from jukicard.cli import _common

    prompts: list[str] = []

    def fake_getpass(prompt: str, stream: object = None) -> str:
        prompts.append(prompt)
        return pins.submit(PINS["text"])

    monkeypatch.setattr(_common, "_terminal_available", lambda: True)
    monkeypatch.setattr(_common.getpass, "getpass", fake_getpass)
    res = run("mynumber", "--profile", _profile(tmp_path, tries=1))
    assert res.rc == 0, res.err
    assert prompts == [
        "券面事項入力補助用暗証番号 (card-details input-support PIN; 4 characters, 1 try left): "]


def test_pin_verify_correct(run: Any, pins: PinLedger, cards: list[CardOS]) -> None:
    """Defect 11: there was no ``pin verify``.  It asks once, sends one VERIFY, exit 0."""
    res = run("pin", "verify", "sign", "--emulated", "--pin-stdin", "--json",
              stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["pin"] == "sign" and data["verified"] is True
    assert data["retries_left"] == data["max_tries"] == 5
    assert cards[0].stats.verify_with_data == 1
    res = run("pin", "verify", "text", "--emulated", "--pin-stdin",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0 and res.out == (
        "券面事項入力補助用暗証番号 (card-details input-support PIN): correct (3 tries left)\n")


def test_pin_verify_wrong_and_blocked(run: Any, pins: PinLedger, tmp_path: Path,
                                      cards: list[CardOS]) -> None:
    """Defect 11: ``pin verify`` with a wrong PIN: exit 3 and the tries left; a blocked
    PIN is never asked for and nothing is sent."""
    res = run("pin", "verify", "auth", "--emulated", "--pin-stdin", "--json",
              stdin=pins.submit("9999") + "\n")
    assert res.rc == 3
    assert res.json()["error"]["retries_left"] == 2 and "2 tries left" in res.err
    blocked = _profile(tmp_path, "jpki", "0018", 0)
    res = run("pin", "verify", "auth", "--profile", blocked, "--pin-stdin", stdin="1234\n")
    assert res.rc == 3 and "blocked" in res.err
    assert sys.stdin.read() == "1234\n"
    assert cards[-1].stats.verify_with_data == 0


def test_pin_verify_unknown_or_absent_pin(run: Any, cards: list[CardOS]) -> None:
    assert run("pin", "verify", "nope", "--emulated").rc == 2
    res = run("pin", "verify", "juki", "--emulated", "--pin-stdin", stdin="1234\n")
    assert res.rc == 2 and "no 'juki' PIN" in res.err
    assert all(c.stats.verify_with_data == 0 for c in cards)


def test_pin_verify_on_a_juki_card(run: Any, pins: PinLedger) -> None:
    res = run("pin", "verify", "juki", "--profile", "juki-01", "--pin-stdin",
              stdin=pins.submit(PINS["juki"]) + "\n")
    assert res.rc == 0, res.err


# --------------------------------------------------------------------------- read_verified
@pytest.mark.parametrize("command", ["mynumber", "basic-info"])
def test_json_says_what_the_signature_check_proved(run: Any, pins: PinLedger,
                                                   command: str) -> None:
    """Card-layer defect: ``signature_checked: true`` was all the JSON said, although the data
    was checked only against the key the card itself supplies.  ``signature_check`` now says
    ``card-key-only`` (no trusted CV issuer key was used)."""
    res = run(command, "--emulated", "--pin-stdin", "--json",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["signature_checked"] is True
    assert data["signature_check"] == "card-key-only"


def test_json_says_when_nothing_was_checked(run: Any, pins: PinLedger) -> None:
    """``--no-check-signature`` reports ``not-checked``, never a check that did not happen."""
    res = run("mynumber", "--emulated", "--pin-stdin", "--json", "--no-check-signature",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    assert res.json()["signature_check"] == "not-checked"
