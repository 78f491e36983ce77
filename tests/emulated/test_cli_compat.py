"""The ``jukicard`` command-line contract, frozen as tables (issue 8, step 1).

Scripts and outside test suites drive these commands — ``cert verify``'s flags above all —
so every command and subcommand, every option with its spelling, short form, default and
choices, every JSON field each command prints and the exit codes are written down here and
checked through :func:`jukicard.cli.main.main` (in-process, the same entry point as the
``jukicard`` console script).

The tables were written against the argparse CLI and pass on it and on the click CLI that
replaced it.  Rows whose behaviour a defect fix of issue 8 changes on purpose are marked with
the defect number (``defect=N``); they are asserted, with the new behaviour, in
``test_cli_card_defects.py`` and ``tests/unit/test_cli_defects.py``, and are left out of
the exit-code test here.  Issue 9 changed the contract of ``cert verify`` and ``signature
verify`` on purpose (``--preset jpki|rfc5280``, with ``--jpki-profile`` its synonym and
``--usage`` implying it): under the jpki preset a test ``--anchor`` (the test PKI) is
refused (exit 2) unless ``--allow-test-anchors`` is given, and without ``--anchor`` the
J-LIS roots bundled with jukicard are the anchors; rows it changes are marked
``issue9=True`` and asserted in ``test_cli_issue9_anchors.py``.  Additions (new JSON fields
such as ``card_source``, new commands such as ``pin verify``) do not break a row: JSON rows
list the fields that must be present.

Exit codes: 0 ok, 1 unexpected, 2 usage, 3 wrong/blocked PIN, 4 card refused,
5 validation failed or data tampered with, 6 reader/card problem.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from emulated_support import PINS, PinLedger, find_file, profile_json

from jukicard.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PKI = ROOT / "vectors" / "pki"
AT = "2026-06-01T00:00:00Z"

CARD = ("--reader", "--emulated", "--profile", "--json", "-h", "--help")
VALIDATION = ("--anchor", "--intermediate", "--crl", "--crl-cache", "--fetch-crls",
              "--no-revocation", "--at", "--policy", "--explicit-policy", "--inhibit-mapping",
              "--inhibit-any-policy", "--jpki-profile", "--usage", "--min-rsa-bits", "--json",
              "--preset", "--allow-test-anchors", "--production-anchor")  # the last 3: issue 9


@dataclass(frozen=True)
class Command:
    """One command of the contract.

    :ivar argv: the words that name it.
    :ivar options: every option spelling it accepts (long and short forms).
    :ivar choices: option (or positional placeholder) → the values it accepts.
    :ivar defaults: option → its default (checked through behaviour in :data:`JSON_ROWS`).
    """

    argv: tuple[str, ...]
    options: tuple[str, ...]
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return " ".join(self.argv) or "jukicard"


COMMANDS: tuple[Command, ...] = (
    Command((), ("-h", "--help", "--version", "--log-level"),
            {"--log-level": ("TRAFFIC", "DEBUG", "INFO", "WARNING", "ERROR")},
            {"--log-level": "WARNING"}),
    Command(("readers",), ("--json", "-h", "--help")),
    Command(("watch",), ("--json", "--timeout", "-h", "--help"),
            defaults={"--timeout": "until interrupted"}),
    Command(("card", "info"), CARD),
    Command(("pin", "status"), CARD),
    Command(("pin", "change"), (*CARD, "--pin-stdin"), {"PIN": ("auth", "sign")}),
    Command(("cert", "verify"), (*VALIDATION, "-h", "--help"),
            {"--usage": ("sign", "auth"), "--preset": ("jpki", "rfc5280")},
            {"--preset": "rfc5280"}),
    Command(("cert", "export"), (*CARD, "--pin-stdin", "--format", "-o", "--output"),
            {"WHICH": ("auth", "auth-ca", "sign", "sign-ca"), "--format": ("pem", "der")},
            {"--format": "pem"}),
    Command(("signature", "verify"),
            (*VALIDATION, "--cert", "--digest", "--raw", "--hash", "--allow-sha1", "-h",
             "--help"),
            {"--hash": ("sha1", "sha224", "sha256", "sha384", "sha512"),
             "--usage": ("sign", "auth"), "--preset": ("jpki", "rfc5280")},
            {"--hash": "sha256", "--preset": "rfc5280"}),
    Command(("mynumber",), (*CARD, "--pin-stdin", "--check-signature", "--no-check-signature"),
            defaults={"--check-signature": "on"}),
    Command(("basic-info",), (*CARD, "--pin-stdin", "--match-b", "--check-signature",
                              "--no-check-signature"),
            defaults={"--check-signature": "on with the PIN, off with --match-b"}),
    Command(("sign",), (*CARD, "--pin-stdin", "--digest", "--key", "--hash", "-o", "--output",
                        "--cert-out"),
            {"--key": ("sign", "auth"), "--hash": ("sha256", "sha384", "sha512")},
            {"--key": "sign", "--hash": "sha256"}),
    Command(("emulator", "profiles"), ("--json", "-h", "--help")),
    Command(("emulator", "serve"), ("--profile", "--host", "--port", "--reconnect",
                                    "--short-apdu", "--atr", "--challenge-seed", "-h",
                                    "--help")),
)
GROUPS = (("card",), ("pin",), ("cert",), ("signature",), ("emulator",))


# --------------------------------------------------------------------------- running
@dataclass
class Run:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def runner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           tmp_path: Path) -> Callable[..., Run]:
    """``run(*argv, stdin="")``: run ``jukicard ARGV`` in-process, whatever way the CLI
    reports usage errors (argparse raised ``SystemExit``; click returns the code), with no
    deployment configuration (the system file is moved to a path that does not exist, no
    ``JUKICARD_CONFIG``) and the fallback switch unset."""
    from jukicard.services import connect

    monkeypatch.setattr(connect, "DEFAULT_CONFIG", str(tmp_path / "no-such-config.conf"))
    monkeypatch.delenv("JUKICARD_CONFIG", raising=False)
    monkeypatch.delenv("JUKICARD_EMULATED_FALLBACK", raising=False)

    def run(*argv: str | Path, stdin: str = "") -> Run:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Run(int(rc or 0), out, err)

    return run


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Callable[..., Run]:
    """:func:`runner` for this test."""
    return runner(monkeypatch, capsys, tmp_path)


def _pcsc_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """PC/SC is not running: the PC/SC transport cannot even be created."""
    from jukicard.errors import ReaderUnavailableError
    from jukicard.services import connect

    def factory(reader: object = None) -> Any:
        exc = ReaderUnavailableError("SCardEstablishContext failed: SCARD_E_NO_SERVICE")
        exc.pcsc_code = 0x8010001D  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(connect, "PcscTransport", factory)


def _no_such_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    from jukicard.errors import NoReaderError
    from jukicard.services import connect

    def factory(reader: object = None) -> Any:
        raise NoReaderError(f"no reader matches {reader!r}")

    monkeypatch.setattr(connect, "PcscTransport", factory)


# --------------------------------------------------------------------------- commands/options
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.id)
def test_help_lists_every_option(cli: Callable[..., Run], command: Command) -> None:
    for flag in ("-h", "--help"):
        res = cli(*command.argv, flag)
        assert res.rc == 0, res.err
        for option in command.options:
            assert option in res.out, f"{command.id}: {option} missing from --help"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.id)
def test_unknown_option_is_a_usage_error(cli: Callable[..., Run], command: Command) -> None:
    res = cli(*command.argv, "--no-such-option")
    assert res.rc == 2


@pytest.mark.parametrize("group", GROUPS, ids=" ".join)
def test_group_without_subcommand_is_a_usage_error(cli: Callable[..., Run],
                                                   group: tuple[str, ...]) -> None:
    assert cli(*group).rc == 2
    assert cli(*group, "no-such-command").rc == 2


def test_no_command_and_unknown_command(cli: Callable[..., Run]) -> None:
    assert cli().rc == 2
    assert cli("no-such-command").rc == 2


def test_version(cli: Callable[..., Run]) -> None:
    res = cli("--version")
    assert res.rc == 0 and res.out.strip() == "jukicard 0.1.0"


_CERT = (str(PKI / "ee/r1-auth.cer"), "--anchor", str(PKI / "ca/auth-2023.cer"))
#: (option, argv holding a value outside the option's choices; otherwise valid)
CHOICE_CASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("--log-level", ("--log-level", "LOUD", "emulator", "profiles")),
    ("pin change PIN", ("pin", "change", "text", "--emulated")),
    ("cert verify --usage", ("cert", "verify", *_CERT, "--usage", "both")),
    ("cert verify --preset", ("cert", "verify", *_CERT, "--preset", "x509")),
    ("cert export WHICH", ("cert", "export", "root", "--emulated")),
    ("cert export --format", ("cert", "export", "auth", "--emulated", "--format", "p12")),
    ("signature verify --hash", ("signature", "verify", "a", "b", "--hash", "md5")),
    ("signature verify --usage", ("signature", "verify", "a", "b", "--usage", "both")),
    ("sign --key", ("sign", "--digest", "00" * 32, "--emulated", "--key", "visual")),
    ("sign --hash", ("sign", "--digest", "00" * 20, "--emulated", "--hash", "sha1")),
)


@pytest.mark.parametrize(("option", "argv"), CHOICE_CASES, ids=[c[0] for c in CHOICE_CASES])
def test_a_value_outside_the_choices_is_a_usage_error(
    cli: Callable[..., Run], option: str, argv: tuple[str, ...]
) -> None:
    res = cli(*argv)
    assert res.rc == 2
    assert "Traceback" not in res.err


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.choices], ids=lambda c: c.id)
def test_help_lists_the_choices(cli: Callable[..., Run], command: Command) -> None:
    res = cli(*command.argv, "--help")
    for values in command.choices.values():
        for value in values:
            assert value in res.out, f"{command.id}: choice {value} missing from --help"


def test_log_level_choices_are_case_insensitive(cli: Callable[..., Run]) -> None:
    for level in ("traffic", "debug", "Info", "WARNING", "error"):
        assert cli("--log-level", level, "emulator", "profiles", "--json").rc == 0


def test_card_selection_options_are_exclusive(cli: Callable[..., Run]) -> None:
    for argv in (("--reader", "0", "--emulated"), ("--reader", "0", "--profile", "juki-01"),
                 ("--emulated", "--profile", "juki-01")):
        assert cli("card", "info", *argv).rc == 2


def test_signature_digest_and_raw_are_exclusive(cli: Callable[..., Run]) -> None:
    assert cli("signature", "verify", "a", "b", "--digest", "--raw").rc == 2


def test_sign_needs_file_or_digest_not_both(cli: Callable[..., Run], tmp_path: Path) -> None:
    assert cli("sign", "--emulated").rc == 2
    (tmp_path / "f").write_bytes(b"x")
    assert cli("sign", str(tmp_path / "f"), "--digest", "00" * 32, "--emulated").rc == 2


def test_a_pin_is_never_an_argument(cli: Callable[..., Run]) -> None:
    assert cli("mynumber", "--emulated", "--pin", "1234").rc == 2


# --------------------------------------------------------------------------- JSON fields
@dataclass(frozen=True)
class JsonRow:
    """A command run with ``--json`` and the fields its object must hold.

    :ivar fields: top-level keys; ``key.sub`` for keys of a nested object (or of each
        object of a nested list).
    :ivar pins: PINs fed on stdin (each must reach the card once).
    :ivar defaults: the defaults this run shows (``field: value``).
    """

    id: str
    argv: tuple[str, ...]
    fields: tuple[str, ...]
    pins: tuple[str, ...] = ()
    defaults: dict[str, object] = field(default_factory=dict)
    rc: int = 0


CERT_RESULT = ("valid", "reason", "message", "at", "path", "path_sha256", "revocation",
               "policies", "revocation.position", "revocation.serial", "revocation.state",
               "revocation.revocation_reason", "revocation.revoked_at", "revocation.source",
               "revocation.problem")
ERROR = ("error", "error.exit_code", "error.type", "error.message", "error.hint")

JSON_ROWS: tuple[JsonRow, ...] = (
    JsonRow("card info", ("card", "info", "--emulated"),
            ("source", "atr", "card_type", "card_label", "token", "applications",
             "certificates", "checked_at", "applications.name", "applications.label",
             "applications.aid", "applications.verified_layout", "certificates.id",
             "certificates.ef", "certificates.read")),
    JsonRow("pin status", ("pin", "status", "--emulated"),
            ("pins", "pins.id", "pins.application", "pins.name", "pins.retries_left",
             "pins.max_tries", "pins.blocked")),
    JsonRow("pin change", ("pin", "change", "auth", "--emulated", "--pin-stdin"),
            ("pin", "changed"), pins=(PINS["auth"], "!1234")),
    JsonRow("mynumber", ("mynumber", "--emulated", "--pin-stdin"),
            ("my_number", "signature_checked"), pins=(PINS["text"],),
            defaults={"signature_checked": True}),
    JsonRow("basic-info", ("basic-info", "--emulated", "--pin-stdin"),
            ("name", "address", "birth", "sex", "sex_code", "signature_checked"),
            pins=(PINS["text"],), defaults={"signature_checked": True}),
    JsonRow("basic-info --match-b", ("basic-info", "--emulated", "--pin-stdin", "--match-b"),
            ("name", "signature_checked"), pins=("07030220358304",),
            defaults={"signature_checked": False}),
    JsonRow("sign --digest", ("sign", "--emulated", "--pin-stdin", "--digest", "00" * 32),
            ("key", "hash", "digest", "signature", "signature_bytes"), pins=(PINS["sign"],),
            defaults={"key": "sign", "hash": "sha256"}),
    JsonRow("cert export", ("cert", "export", "auth", "--emulated"),
            ("certificate", "format", "bytes", "pem"), defaults={"format": "pem"}),
    JsonRow("cert export der", ("cert", "export", "auth-ca", "--emulated", "--format", "der"),
            ("certificate", "format", "bytes", "der_base64")),
    JsonRow("emulator profiles", ("emulator", "profiles"),
            ("profiles", "profiles.name", "profiles.card_type", "profiles.description")),
    JsonRow("cert verify", ("cert", "verify", str(PKI / "ee/r1-sign.cer"), "--anchor",
                            str(PKI / "ca/sign-2023.cer"), "--crl",
                            str(PKI / "crl/sign-2023.crl"), "--at", AT), (*CERT_RESULT, "preset"),
            defaults={"preset": "rfc5280"}),
    JsonRow("cert verify --preset jpki", ("cert", "verify", str(PKI / "ee/r1-sign.cer"),
                                          "--preset", "jpki", "--allow-test-anchors",
                                          "--anchor", str(PKI / "ca/sign-2023.cer"), "--crl",
                                          str(PKI / "crl/sign-2023.crl"), "--at", AT),
            (*CERT_RESULT, "preset", "anchor", "anchor.id", "anchor.production"),
            defaults={"preset": "jpki"}),
    JsonRow("cert verify revoked", ("cert", "verify", str(PKI / "ee/r2-sign.cer"), "--anchor",
                                    str(PKI / "ca/sign-2023.cer"), "--crl",
                                    str(PKI / "crl/sign-2023.crl"), "--at", AT),
            CERT_RESULT, rc=5),
    JsonRow("cert verify malformed", ("cert", "verify", str(PKI / "crl/sign-2023.crl"),
                                      "--anchor", str(PKI / "ca/sign-2023.cer"), "--at", AT),
            ("valid", "reason", "message", "at", "path", "revocation"), rc=5),
    JsonRow("error: wrong PIN", ("mynumber", "--emulated", "--pin-stdin"),
            (*ERROR, "error.sw", "error.retries_left"), pins=("0000",), rc=3),
    JsonRow("error: usage", ("sign", "--emulated", "--digest", "zz"), ERROR, rc=2),
)


def _has(obj: Any, dotted: str) -> bool:
    head, _, rest = dotted.partition(".")
    if not isinstance(obj, dict) or head not in obj:
        return False
    if not rest:
        return True
    value = obj[head]
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(_has(item, rest) for item in items)


@pytest.mark.parametrize("row", JSON_ROWS, ids=lambda r: r.id)
def test_json_fields(cli: Callable[..., Run], pins: PinLedger, row: JsonRow) -> None:
    stdin = "".join((p[1:] if p.startswith("!") else pins.submit(p)) + "\n" for p in row.pins)
    res = cli(*row.argv, "--json", stdin=stdin)
    assert res.rc == row.rc, res.err
    data = res.json()
    for name in row.fields:
        assert _has(data, name), f"{row.id}: JSON field {name!r} missing"
    for key, value in row.defaults.items():
        assert data[key] == value


def test_json_signature_verify(cli: Callable[..., Run], tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import pkcs7

    data = b"document\n"
    key = serialization.load_pem_private_key((PKI / "keys/ee-r1-sign.pem").read_bytes(), None)
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "sig").write_bytes(key.sign(data, padding.PKCS1v15(), hashes.SHA256()))
    chain = ["--anchor", str(PKI / "ca/sign-2023.cer"), "--crl", str(PKI / "crl/sign-2023.crl"),
             "--at", AT]
    res = cli("signature", "verify", tmp_path / "data", tmp_path / "sig", "--cert",
              PKI / "ee/r1-sign.cer", *chain, "--json")
    assert res.rc == 0, res.err
    out = res.json()
    for name in ("valid", "reason", "message", "at", "signature", "certificate",
                 "signature.valid", "signature.format", "signature.mode", "signature.hash",
                 "signature.key_size", "signature.weak_hash",
                 *(f"certificate.{f}" for f in CERT_RESULT)):
        assert _has(out, name), name
    assert out["signature"]["hash"] == "sha256"  # the default hash
    cert = x509.load_der_x509_certificate((PKI / "ee/r1-sign.cer").read_bytes())
    (tmp_path / "p7s").write_bytes(
        pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary,
                                           pkcs7.PKCS7Options.DetachedSignature]))
    res = cli("signature", "verify", tmp_path / "data", tmp_path / "p7s", *chain, "--json")
    assert res.rc == 0, res.err
    out = res.json()
    for name in ("signature.format", "signature.detached", "signature.content_type",
                 "signature.signers", "signature.signers.hash", "signature.signers.key_size",
                 "signature.signers.signed_attributes", "signature.signers.signing_time",
                 "signature.signers.weak_hash", "signature.signers.certificate_sha256"):
        assert _has(out, name), name


def test_json_readers_and_watch(cli: Callable[..., Run],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from jukicard.cli import reader as reader_cli
    from jukicard.services.readers import CardIdentity, ReaderInfo, watch_cards
    from jukicard.transport.events import CardInserted, ReaderAdded

    monkeypatch.setattr(reader_cli, "READERS_SOURCE",
                        lambda: [ReaderInfo(0, "R", True, b"\x3b\x00")])
    res = cli("readers", "--json")
    assert res.rc == 0
    assert res.json() == {"readers": [{"index": 0, "name": "R", "card_present": True,
                                       "atr": "3B00"}]}
    monkeypatch.setattr(
        reader_cli, "WATCH_SOURCE",
        lambda timeout: watch_cards([ReaderAdded("R"), CardInserted("R", b"\x3b\x00")],
                                    identify=lambda r: CardIdentity("mynumber", ("jpki",), "T")))
    res = cli("watch", "--json", "--timeout", "1")
    lines = [json.loads(line) for line in res.out.splitlines()]
    assert res.rc == 0
    assert lines == [{"event": "reader-added", "reader": "R"},
                     {"event": "card-inserted", "reader": "R", "atr": "3B00",
                      "card_type": "mynumber", "applications": ["jpki"], "token": "T"}]


# --------------------------------------------------------------------------- exit codes
@dataclass(frozen=True)
class ExitRow:
    """A situation and the exit code it gives.

    :ivar setup: prepares the situation (``monkeypatch``, ``tmp_path`` → extra argv).
    :ivar defect: the issue-8 defect that changes this row on purpose (asserted with the
        new behaviour in the defect tests); ``old`` is the code before issue 8.
    :ivar review: the finding of the issue-8 review that changes this row on purpose
        (asserted in ``test_cli_review.py`` / ``test_cli_review_card.py``); ``old`` is the
        code before the review.
    :ivar review2: the finding of the second review of issue 8 that changes this row on
        purpose (run with stdout a terminal in ``test_cli_output_review2.py``); ``old`` is
        the code before it.
    :ivar issue9: issue 9 (``--preset``, production J-LIS anchors) changes this row on
        purpose (asserted in ``test_cli_issue9_anchors.py``); ``old`` is the code before
        issue 9 (also for a row an issue-8 review had changed before).
    """

    id: str
    argv: tuple[str, ...]
    rc: int
    stdin: str = ""
    setup: Callable[[pytest.MonkeyPatch, Path], tuple[str, ...]] | None = None
    defect: int | None = None
    old: int | None = None
    review: int | None = None
    review2: int | None = None
    issue9: bool = False


def _with_tries(app: str, fid: str, tries: int) -> Callable[..., tuple[str, ...]]:
    def setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, ...]:
        prof = profile_json("mynumber-01")
        find_file(prof, app, fid)["tries_left"] = tries
        path = tmp_path / "card.json"
        path.write_text(json.dumps(prof), encoding="utf-8")
        return ("--profile", str(path))
    return setup


def _unexpected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, ...]:
    from jukicard.cli import reader as reader_cli

    def boom() -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(reader_cli, "READERS_SOURCE", boom)
    return ()


def _pcsc_down_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, ...]:
    _pcsc_down(monkeypatch)
    return ()


def _no_reader_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, ...]:
    _no_such_reader(monkeypatch)
    return ()


def _sha384_signature(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, ...]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key((PKI / "keys/ee-r1-sign.pem").read_bytes(), None)
    (tmp_path / "data").write_bytes(b"x")
    (tmp_path / "sig").write_bytes(key.sign(b"x", padding.PKCS1v15(), hashes.SHA384()))
    return (str(tmp_path / "data"), str(tmp_path / "sig"))


def _damaged_my_number(tmp_path: Path) -> tuple[str, ...]:
    """A card whose My Number EF has a wrong check digit (damaged card data)."""
    prof = profile_json("mynumber-01")
    ef = find_file(prof, "text", "0001")
    ef["data"] = ef["data"].replace(b"201867807611".hex().upper(), b"201867807612".hex().upper())
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(prof), encoding="utf-8")
    return ("--profile", str(path))


CERT_R2 = ("cert", "verify", str(PKI / "ee/r2-sign.cer"), "--anchor",
           str(PKI / "ca/sign-2023.cer"), "--crl", str(PKI / "crl/sign-2023.crl"), "--at", AT)

EXIT_ROWS: tuple[ExitRow, ...] = (
    ExitRow("ok", ("card", "info", "--emulated"), 0),
    ExitRow("usage: unknown option", ("card", "info", "--bogus"), 2),
    ExitRow("usage: missing --anchor", ("cert", "verify", "x.cer"), 2),
    ExitRow("usage: bad --at", (*CERT_R2[:-1], "yesterday"), 2),
    ExitRow("usage: missing input file", ("cert", "verify", "/nonexistent/x.cer", "--anchor",
                                          str(PKI / "ca/sign-2023.cer")), 2),
    ExitRow("usage: bad --digest", ("sign", "--emulated", "--digest", "zz"), 2),
    ExitRow("usage: negative --timeout", ("watch", "--timeout", "-1"), 2),
    ExitRow("usage: PIN of the wrong format", ("mynumber", "--emulated", "--pin-stdin"), 2,
            stdin="12345\n"),
    ExitRow("usage: stdin ended", ("mynumber", "--emulated", "--pin-stdin"), 2),
    ExitRow("usage: bad profile", ("card", "info", "--profile", "/nonexistent.json"), 2),
    ExitRow("PIN blocked", ("mynumber", "--pin-stdin"), 3,
            setup=_with_tries("text", "0011", 0)),
    ExitRow("card refused (no text AP)", ("mynumber", "--profile", "juki-01", "--pin-stdin"),
            4, stdin="1234\n"),
    ExitRow("validation failed", CERT_R2, 5),
    ExitRow("reader problem: named reader missing", ("card", "info", "--reader", "ACS"), 6,
            setup=_no_reader_setup),
    ExitRow("unexpected error", ("readers",), 1, setup=_unexpected),
    ExitRow("demo command falls back with PC/SC down", ("card", "info"), 0,
            setup=_pcsc_down_setup),
    # ---- changed on purpose by issue 8 (asserted in the defect tests)
    ExitRow("mynumber with PC/SC down", ("mynumber", "--pin-stdin"), 6, stdin="1234\n",
            setup=_pcsc_down_setup, defect=2, old=0),
    ExitRow("sign with PC/SC down", ("sign", "--digest", "00" * 32, "--pin-stdin"), 6,
            stdin="ABC123\n", setup=_pcsc_down_setup, defect=2, old=0),
    ExitRow("sha384 signature, no --hash", ("signature", "verify", "--cert",
                                            str(PKI / "ee/r1-sign.cer")), 0,
            setup=_sha384_signature, defect=3, old=5),
    ExitRow("emulator serve: port out of range", ("emulator", "serve", "--profile",
                                                  "mynumber-01", "--port", "70000"), 2,
            defect=8, old=1),
    # ---- changed on purpose by the review of issue 8 (asserted in the review tests)
    ExitRow("damaged card data (My Number check digit)", ("mynumber", "--no-check-signature",
                                                          "--pin-stdin"), 5, stdin="1234\n",
            setup=lambda mp, tmp: _damaged_my_number(tmp), review=1, old=4),
    ExitRow("cert verify: --anchor holding a CRL", ("cert", "verify",
                                                    str(PKI / "ee/r1-sign.cer"), "--anchor",
                                                    str(PKI / "crl/sign-2023.crl")), 2,
            review=7, old=5),
    ExitRow("signature verify --jpki-profile without --anchor", ("signature", "verify", "--cert",
                                                                 str(PKI / "ee/r1-sign.cer"),
                                                                 "--jpki-profile"), 5,
            setup=_sha384_signature, review=6, issue9=True, old=2),
    ExitRow("emulator serve: missing profile", ("emulator", "serve", "--profile", "nosuch"), 2,
            review=13, old=1),
    # ---- changed on purpose by the second review of issue 8 (test_cli_output_review2.py)
    ExitRow("sign -o - with stdout a terminal: '-' is stdout (raw bytes, refused on a "
            "terminal like DER; was: a file named '-')",
            ("sign", "--digest", "00" * 32, "--emulated", "--pin-stdin", "-o", "-"), 2,
            stdin="ABC123\n", review2=4, old=0),
    # ---- new options of issue 9: plain usage errors
    ExitRow("usage: --allow-test-anchors without --preset jpki",
            (*CERT_R2, "--allow-test-anchors"), 2),
    ExitRow("usage: --preset rfc5280 with --usage", (*CERT_R2, "--preset", "rfc5280", "--usage",
                                                     "sign"), 2),
    ExitRow("usage: --production-anchor not a fingerprint",
            (*CERT_R2, "--preset", "jpki", "--production-anchor", "abc"), 2),
    # ---- changed on purpose by issue 9 (test_cli_issue9_anchors.py)
    ExitRow("cert verify --jpki-profile with a test --anchor: refused without "
            "--allow-test-anchors (was: trusted)", ("cert", "verify", str(PKI / "ee/r1-sign.cer"),
                                                    "--anchor", str(PKI / "ca/sign-2023.cer"),
                                                    "--crl", str(PKI / "crl/sign-2023.crl"),
                                                    "--at", AT, "--jpki-profile"), 2,
            issue9=True, old=0),
    ExitRow("cert verify --usage sign with a test --anchor: refused without "
            "--allow-test-anchors (was: trusted)", ("cert", "verify", str(PKI / "ee/r1-sign.cer"),
                                                    "--anchor", str(PKI / "ca/sign-2023.cer"),
                                                    "--crl", str(PKI / "crl/sign-2023.crl"),
                                                    "--at", AT, "--usage", "sign"), 2,
            issue9=True, old=0),
    ExitRow("cert verify --jpki-profile without --anchor: the bundled J-LIS roots (was: "
            "--anchor required)", ("cert", "verify", str(PKI / "ee/r1-sign.cer"), "--at", AT,
                                   "--jpki-profile"), 5, issue9=True, old=2),
)


@pytest.mark.parametrize("row", [r for r in EXIT_ROWS if r.defect is None and r.review is None
                                 and r.review2 is None and not r.issue9], ids=lambda r: r.id)
def test_exit_codes(cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                    pins: PinLedger, row: ExitRow) -> None:
    extra = row.setup(monkeypatch, tmp_path) if row.setup else ()
    res = cli(*row.argv, *extra, stdin=row.stdin)
    assert res.rc == row.rc, res.err
    if row.rc in (2, 3, 4, 6):
        assert res.err.strip(), "a failure says why on stderr"
    assert "Traceback" not in res.err


def test_json_failure_prints_the_error_object(cli: Callable[..., Run],
                                              pins: PinLedger) -> None:
    res = cli("mynumber", "--emulated", "--pin-stdin", "--json", stdin=pins.submit("0000") + "\n")
    err = res.json()["error"]
    assert res.rc == 3 and err["exit_code"] == 3 and err["type"] == "PinError"
    assert err["retries_left"] == 2 and err["sw"] == "63C2"
