"""The shape of the click CLI: static groups, a light ``--help``, the one exit-code table,
option abbreviations, ``CliRunner`` runs, and a real process interrupted by SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import jukicard
from jukicard.cli import _common, card, cert, data, emulator, pin, reader, sign, signature
from jukicard.cli.main import EXIT_CODES, cli, exit_code_for, main
from jukicard.errors import (
    BadResponse,
    CardError,
    DataIntegrityError,
    ValidationError,
    tries_left_text,
)

ROOT = Path(__file__).resolve().parents[2]
CLI_DIR = ROOT / "jukicard" / "cli"
PKI = ROOT / "vectors" / "pki"
AT = "2026-06-01T00:00:00Z"
PACKAGE_PARENT = str(Path(jukicard.__file__).resolve().parents[1])
TIMEOUT = 120  # hang guard, not a timed assertion

#: What ``--help`` / ``--version`` must not load.
HEAVY = ("jukicard.card", "jukicard.pki", "jukicard.services", "jukicard.transport",
         "jukicard.emulator", "jukicard.apdu", "cryptography", "asn1crypto", "smartcard")

PROBE = """
import json, sys
from jukicard.cli.main import main
code = main(sys.argv[1:])
prefixes = tuple(json.loads(sys.stdin.read()))
heavy = sorted(m for m in sys.modules if m.startswith(prefixes))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["-h"], ["cert", "--help"],
                                  ["cert", "verify", "--help"], ["mynumber", "-h"],
                                  ["pin", "status", "--help"], ["signature", "verify", "-h"],
                                  ["operator", "vein", "verify", "--help"]],
                         ids=" ".join)
def test_help_and_version_load_no_heavy_stack(argv: list[str], tmp_path: Path) -> None:
    """``--help``/``--version`` import neither the card, PC/SC, services, pki nor the
    crypto stacks (measured with ``python -X importtime``: see the report of issue 8)."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], input=json.dumps(HEAVY),
                          capture_output=True, text=True, cwd=tmp_path, timeout=TIMEOUT,
                          env={**os.environ, "PYTHONPATH": PACKAGE_PARENT}, check=False)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] == 0 and proc.stdout
    assert report["heavy"] == []


def test_no_registry_no_dynamic_import_no_argparse_internals() -> None:
    """Groups are added by static import: no module-name registry, no importlib, no
    argparse private API."""
    for path in CLI_DIR.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for word in ("importlib", "__import__", "COMMAND_MODULES", "CERT_EXTENSION_MODULES",
                     "_SubParsersAction", "._actions", "import argparse"):
            assert word not in text, f"{path.name} uses {word}"


def test_one_group_per_module_in_help_order() -> None:
    assert list(cli.commands) == ["readers", "watch", "card", "pin", "cert", "signature",
                                  "mynumber", "basic-info", "card-face", "sign", "emulator",
                                  "bulk-verify", "juki", "operator"]
    modules = {name: cmd.callback.__module__ for name, cmd in cli.commands.items()
               if cmd.callback is not None}
    for group, module in (("card", card), ("pin", pin), ("cert", cert),
                          ("signature", signature), ("emulator", emulator)):
        assert modules[group] == module.__name__
    assert modules["mynumber"] == modules["basic-info"] == data.__name__
    assert modules["sign"] == sign.__name__ and modules["readers"] == reader.__name__
    assert list(cli.commands["pin"].commands) == ["status", "verify", "change"]  # type: ignore[attr-defined]


def test_cli_choice_lists_are_the_services_lists() -> None:
    """The id lists are not written out in the CLI (one source of truth: the card facts and
    the services); click reads them when the command parses its arguments."""
    from jukicard.pki.fetch import DEFAULT_MAX_BYTES
    from jukicard.services import data as data_service
    from jukicard.services import inputs, pins, signing

    def choices(group: str, command: str, param: str) -> tuple[str, ...]:
        cmd = cli.commands[group]
        if command:
            cmd = cmd.commands[command]  # type: ignore[attr-defined]
        found = next(p for p in cmd.params if p.name == param)
        return tuple(found.type.choices)  # type: ignore[attr-defined]

    assert choices("pin", "verify", "pin_id") == pins.PIN_IDS
    assert choices("pin", "change", "pin_id") == pins.CHANGEABLE_PINS
    assert choices("cert", "export", "which") == data_service.CERT_IDS
    assert choices("sign", "", "key") == signing.KEY_IDS
    assert inputs.MAX_CRL == DEFAULT_MAX_BYTES


def test_lazy_choice_reads_its_values_when_needed_and_checks_them() -> None:
    """Not when built (``jukicard --help`` imports no card stack), and again at each use:
    a PIN id of a row added to the detection table later is accepted (issue 8)."""
    values = [("a", "b")]

    def load() -> tuple[str, ...]:
        return values[-1]

    choice = _common.LazyChoice(load)
    values.clear()  # the loader is not called at construction (it would fail here)
    values.append(("a", "b"))
    assert choice.convert("a", None, None) == "a"
    with pytest.raises(click.BadParameter) as err:
        choice.convert("c", None, None)
    assert "'c'" not in str(err.value) and "use one of a, b" in str(err.value)
    values.append(("a", "b", "c"))
    assert choice.convert("c", None, None) == "c"


def test_a_pin_typed_in_place_of_its_id_is_not_echoed() -> None:
    """``jukicard pin verify 1234``: the usage error names the valid ids, not the value."""
    res = CliRunner().invoke(cli, ["pin", "verify", "918273"])
    assert res.exit_code == 2
    assert "918273" not in res.output and "text-match-a" in res.output


def test_exit_code_table_is_one_ordered_table() -> None:
    """Issue 8 defect 9: tampered card data (a BadResponse) maps to 5 before CardError's 4
    (since the review, every BadResponse: damaged or tampered card data)."""
    classes = [cls for cls, _code, _hint in EXIT_CODES]
    assert classes.index(DataIntegrityError) < classes.index(CardError)
    assert classes.index(BadResponse) < classes.index(CardError)
    assert exit_code_for(DataIntegrityError("x"))[0] == 5
    assert exit_code_for(BadResponse("x"))[0] == 5
    assert exit_code_for(ValidationError("x"))[0] == 5
    assert exit_code_for(KeyboardInterrupt())[0] == 1


# --------------------------------------------------------------------------- CliRunner
def test_cli_runner_card_info_json() -> None:
    result = CliRunner().invoke(cli, ["card", "info", "--emulated", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["card_type"] == "mynumber"
    assert info["card_source"] == {"kind": "emulated", "name": "mynumber-01", "fallback": False,
                                   "profile": "mynumber-01"}


def test_cli_runner_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    from jukicard.services.readers import ReaderInfo

    monkeypatch.setattr(reader, "READERS_SOURCE", lambda: [ReaderInfo(0, "R", False)])
    result = CliRunner().invoke(cli, ["readers"])
    assert result.exit_code == 0 and result.stdout == "0: R  (no card)\n"


def test_cli_runner_usage_error() -> None:
    # issue 9: --anchor is no longer a required click option (--preset jpki has bundled
    # anchors; without them the service says so): a missing CERT is click's own usage error
    result = CliRunner().invoke(cli, ["cert", "verify", "--anchor", "root.cer"])
    assert result.exit_code == 2 and "Missing argument 'CERT'" in result.stderr


def test_long_options_accept_unique_prefixes() -> None:
    """The argparse CLI accepted abbreviations (``--no-rev``); scripts may use them."""
    argv = ["cert", "verify", str(PKI / "ee/r1-auth.cer"), "--anc",
            str(PKI / "ca/auth-2023.cer"), "--no-rev", f"--at={AT}", "--js"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid"] is True
    result = CliRunner().invoke(cli, ["--log", "debug", "emulator", "profiles", "--js"])
    assert result.exit_code == 0, result.output
    # ambiguous: --in could be --intermediate, --inhibit-mapping, --inhibit-any-policy
    assert main(["cert", "verify", "x", "--anchor", "a", "--in", "y"]) == 2


def test_pin_wording_helper() -> None:
    from jukicard.card import JpkiPin

    assert _common.pin_label(JpkiPin.AUTH.value) == JpkiPin.AUTH.value.name
    assert [tries_left_text(n) for n in (0, 1, 2)] == ["0 tries left", "1 try left",
                                                          "2 tries left"]


# --------------------------------------------------------------------------- signals
WATCH_FOREVER = """
import sys, time
from jukicard.cli import reader
from jukicard.services.readers import WatchReport

def events(timeout):
    yield WatchReport("reader-added", "R")
    while True:
        time.sleep(0.05)

reader.WATCH_SOURCE = events
from jukicard.cli.main import main
sys.exit(main(["watch", *sys.argv[1:]]))
"""


@pytest.mark.parametrize("fmt", [(), ("--json",)], ids=["text", "json"])
def test_sigint_ends_watch_with_130_and_no_traceback(tmp_path: Path,
                                                     fmt: tuple[str, ...]) -> None:
    proc = subprocess.Popen([sys.executable, "-u", "-c", WATCH_FOREVER, *fmt],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": PACKAGE_PARENT})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the watch is running
        assert b"reader-added" in first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert b"interrupted" in err and b"Traceback" not in err
    if fmt:
        assert json.loads(out)["error"]["exit_code"] == 130


def test_python_m_jukicard_exit_codes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT}
    for argv, expected in (([], 2), (["--version"], 0), (["no-such-command"], 2),
                           (["cert", "verify", str(PKI / "ee/r2-sign.cer"), "--anchor",
                             str(PKI / "ca/sign-2023.cer"), "--crl",
                             str(PKI / "crl/sign-2023.crl"), "--at", AT], 5)):
        proc = subprocess.run([sys.executable, "-m", "jukicard", *argv], capture_output=True,
                              cwd=tmp_path, env=env, timeout=TIMEOUT, check=False)
        assert proc.returncode == expected, proc.stderr
        assert b"Traceback" not in proc.stderr
