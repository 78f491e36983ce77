"""``jukicard operator vein`` in-process (issue 12), with stand-in plugins installed as a
throwaway distribution (real entry points) and an allow-list file naming them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from vein_standins import SECRET_MARK, install_distribution

from jukicard.cli.main import main
from jukicard.operator import DEVICE_GROUP, MATCHER_GROUP

DIST = "jukicard-vein-standin"
VERSION = "2.0"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    site = tmp_path / "site"
    install_distribution(site, DIST, VERSION,
                         {DEVICE_GROUP: {"standin": "vein_standins:FakeDeviceStandIn"},
                          MATCHER_GROUP: {"standin": "vein_standins:FakeMatcherStandIn"}})
    monkeypatch.syspath_prepend(str(site))
    for name in ("JUKICARD_VEIN_STORE", "JUKICARD_VEIN_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    allow = tmp_path / "allow.toml"
    allow.write_text(
        "".join(f'[[{kind}]]\nname = "standin"\ndistribution = "{DIST}"\n'
                f'version = "{VERSION}"\n' for kind in ("device", "matcher")),
        encoding="utf-8")
    return {"store": tmp_path / "vein.sqlite", "key": tmp_path / "vein.key", "allow": allow}


def _run(capsys: pytest.CaptureFixture[str], env: dict[str, Path], *args: str,
         plugins: bool = True) -> tuple[int, dict[str, object], str]:
    argv = ["operator", "vein", *args, "--json", "--store", str(env["store"]),
            "--key-file", str(env["key"])]
    if plugins:
        argv += ["--device", "standin", "--matcher", "standin", "--allow-list",
                 str(env["allow"])]
    code = main(argv)
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _keygen(capsys: pytest.CaptureFixture[str], env: dict[str, Path]) -> None:
    assert main(["operator", "vein", "keygen", "--key-file", str(env["key"])]) == 0
    capsys.readouterr()


def test_enrol_verify_list_revoke_rotate(capsys: pytest.CaptureFixture[str],
                                         env: dict[str, Path]) -> None:
    _keygen(capsys, env)
    assert stat.S_IMODE(env["key"].stat().st_mode) == 0o600
    code, enrolled, err = _run(capsys, env, "enroll", "--operator-id", "op-1", "--finger",
                               "2", "--approved-by", "admin", "--device-option", "subject=7")
    assert code == 0, err
    assert enrolled["plugins"]["device"] == {  # type: ignore[index]
        "name": "standin", "distribution": DIST, "version": VERSION}
    assert enrolled["plugins"]["device_info"]["simulated"] is True  # type: ignore[index]
    assert "simulated device" in err and "place finger" in err
    record = enrolled["record_id"]

    code, result, _err = _run(capsys, env, "verify", "--operator-id", "op-1",
                              "--device-option", "subject=7")
    assert (code, result["decision"], result["record_id"]) == (0, "match", record)
    assert result["pad"]["decision"] == "bona-fide"  # type: ignore[index]
    code, result, _err = _run(capsys, env, "verify", "--operator-id", "op-1",
                              "--device-option", "subject=8", "--attempts", "2")
    assert (code, result["decision"], result["attempts"]) == (5, "no-match", 2)

    code, listed, _err = _run(capsys, env, "list", plugins=False)
    assert code == 0
    assert [(r["record_id"], r["finger_id"], r["revoked"])  # type: ignore[index]
            for r in listed["records"]] == [(record, 2, False)]  # type: ignore[attr-defined]
    code, rotated, _err = _run(capsys, env, "rotate-keys", plugins=False)
    assert (code, rotated) == (0, {"rewrapped": 1})
    code, revoked, _err = _run(capsys, env, "revoke", "op-1", "--approved-by", "admin",
                               "--reason", "left the office", plugins=False)
    assert (code, revoked) == (0, {"revoked": 1, "rewrapped": 0})
    code, error, _err = _run(capsys, env, "verify", "--operator-id", "op-1",
                             "--device-option", "subject=7")
    assert code == 4 and error["error"]["type"] == "TemplateNotFound"  # type: ignore[index]
    for text in (json.dumps(enrolled), json.dumps(listed), err):
        assert "VEINSECRET" not in text and SECRET_MARK.hex() not in text


def test_a_presentation_attack_exits_5_without_a_decision(
        capsys: pytest.CaptureFixture[str], env: dict[str, Path]) -> None:
    _keygen(capsys, env)
    assert _run(capsys, env, "enroll", "--operator-id", "op-1", "--finger", "1",
                "--approved-by", "admin")[0] == 0
    code, error, _err = _run(capsys, env, "verify", "--operator-id", "op-1",
                             "--device-option", 'script=["attack"]')
    assert code == 5
    assert error["error"]["type"] == "PresentationAttackSuspected"  # type: ignore[index]
    assert "decision" not in error


@pytest.mark.parametrize(("step", "kind"), [("timeout", "CaptureTimeout"),
                                            ("removed", "DeviceRemoved")])
def test_device_failures_exit_6(capsys: pytest.CaptureFixture[str], env: dict[str, Path],
                                step: str, kind: str) -> None:
    _keygen(capsys, env)
    code, error, _err = _run(capsys, env, "enroll", "--operator-id", "op-1", "--finger",
                             "1", "--approved-by", "admin", "--device-option",
                             f'script=["{step}"]')
    assert (code, error["error"]["type"]) == (6, kind)  # type: ignore[index]


def test_a_plugin_not_on_the_allow_list_exits_2(capsys: pytest.CaptureFixture[str],
                                                env: dict[str, Path]) -> None:
    _keygen(capsys, env)
    env["allow"].write_text(env["allow"].read_text().replace(VERSION, "2.1", 1))
    code, error, _err = _run(capsys, env, "enroll", "--operator-id", "op-1", "--finger",
                             "1", "--approved-by", "admin")
    assert code == 2 and error["error"]["type"] == "PluginNotAllowed"  # type: ignore[index]
    message = str(error["error"]["message"])  # type: ignore[index]
    assert f"installed standin from {DIST} {VERSION}" in message and "2.1" in message
    assert not env["store"].exists() or _run(capsys, env, "list", plugins=False)[1] == {
        "records": []}


def test_default_allow_list_and_missing_plugin(capsys: pytest.CaptureFixture[str],
                                               env: dict[str, Path]) -> None:
    _keygen(capsys, env)
    code = main(["operator", "vein", "verify", "--operator-id", "op-1", "--json", "--store",
                 str(env["store"]), "--key-file", str(env["key"]), "--device",
                 "nosuch-standin"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert (code, error["type"]) == (2, "PluginNotFound")
    # the stand-in is installed but the shipped allow-list does not name it
    code = main(["operator", "vein", "verify", "--operator-id", "op-1", "--json", "--store",
                 str(env["store"]), "--key-file", str(env["key"]), "--device", "standin"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert (code, error["type"]) == (2, "PluginNotAllowed")


def test_store_and_key_are_required_and_env_works(capsys: pytest.CaptureFixture[str],
                                                  env: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["operator", "vein", "list", "--json"]) == 2
    assert "--store" in json.loads(capsys.readouterr().out)["error"]["message"]
    _keygen(capsys, env)
    monkeypatch.setenv("JUKICARD_VEIN_STORE", str(env["store"]))
    monkeypatch.setenv("JUKICARD_VEIN_KEY_FILE", str(env["key"]))
    assert main(["operator", "vein", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"records": []}
    assert main(["operator", "vein", "keygen", "--json"]) == 6  # never overwrites
    assert "already exists" in capsys.readouterr().out


def test_bad_device_options_are_usage_errors(capsys: pytest.CaptureFixture[str],
                                             env: dict[str, Path]) -> None:
    _keygen(capsys, env)
    for option in ("noequals", "colour=red"):
        code, error, _err = _run(capsys, env, "enroll", "--operator-id", "op-1", "--finger",
                                 "1", "--approved-by", "admin", "--device-option", option)
        assert (code, error["error"]["type"]) == (2, "UsageError"), option  # type: ignore[index]


def test_simulated_presentation_options(capsys: pytest.CaptureFixture[str],
                                        env: dict[str, Path]) -> None:
    _keygen(capsys, env)
    code, enrolled, err = _run(capsys, env, "enroll", "--operator-id", "op-1", "--finger",
                               "1", "--approved-by", "admin", "--present", "12:1")
    assert code == 0, err
    code, result, _err = _run(capsys, env, "verify", "--operator-id", "op-1", "--present",
                              "12")
    assert (code, result["decision"]) == (0, "match")
    code, result, _err = _run(capsys, env, "verify", "--operator-id", "op-1", "--present",
                              "13", "--attempts", "1")
    assert (code, result["decision"]) == (5, "no-match")
    code, error, _err = _run(capsys, env, "verify", "--operator-id", "op-1", "--present",
                             "12", "--simulate-attack", "printed")
    assert (code, error["error"]["type"]) == (5, "PresentationAttackSuspected")  # type: ignore[index]
    for bad in (["--present", "x"], ["--simulate-attack", "printed"],
                ["--present", "1", "--simulate-attack", "gummy"],
                ["--present", "1", "--device-option", "simulated=false"]):
        code, error, _err = _run(capsys, env, "verify", "--operator-id", "op-1", *bad)
        assert (code, error["error"]["type"]) == (2, "UsageError"), bad  # type: ignore[index]


# --------------------------------------------------------------------------- review (rv-vein)
def test_revoke_rotates_so_a_backup_of_the_record_never_opens(
        capsys: pytest.CaptureFixture[str], env: dict[str, Path]) -> None:
    """Review finding: ``revoke`` only shredded the row; the KEK that wrapped the record's
    key stayed until someone ran ``rotate-keys``, so whoever can write the store file put
    the row back from a backup and the revoked finger matched again.  Fails on the old
    code (revoke did not rotate: no "rewrapped", the rolled-back record still opened)."""
    _keygen(capsys, env)
    code, _enrolled, err = _run(capsys, env, "enroll", "--operator-id", "op-1", "--finger",
                                "2", "--approved-by", "admin", "--device-option", "subject=7")
    assert code == 0, err
    backup = env["store"].read_bytes()
    code, revoked, err = _run(capsys, env, "revoke", "op-1", "--approved-by", "admin",
                              "--reason", "left the office", plugins=False)
    assert (code, revoked) == (0, {"revoked": 1, "rewrapped": 0}) and "rotating" in err
    env["store"].write_bytes(backup)  # the store is rolled back to the backup
    code, error, _err = _run(capsys, env, "verify", "--operator-id", "op-1",
                             "--device-option", "subject=7")
    assert code == 5 and error["error"]["type"] == "TemplateIntegrityError"  # type: ignore[index]
    code, revoked, _err = _run(capsys, env, "revoke", "op-1", "--approved-by", "admin",
                               "--reason", "again", "--no-rotate", plugins=False)
    assert (code, revoked) == (0, {"revoked": 1, "rewrapped": None})
