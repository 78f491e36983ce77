"""The deployment switch of the emulated-card fallback and the card source
(:mod:`jukicard.services.connect`, issue 8 defect 2, and the review findings 3 and 4: the
library never falls back unless asked and allowed; the switch fails closed).

Every test moves the system file (:data:`connect.DEFAULT_CONFIG`) to a path of its own, so
the machine's ``/etc/jukicard/jukicard.conf`` plays no part.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import jukicard
from jukicard.emulator.profile import resolve_profile_path
from jukicard.errors import NoReaderError, ReaderUnavailableError, UsageError
from jukicard.services import connect
from jukicard.services.data import read_my_number
from jukicard.services.interaction import ScriptedInteraction

PACKAGE_PARENT = str(Path(jukicard.__file__).resolve().parents[1])
#: hang guard for one process (not a timed assertion)
TIMEOUT = 60


@pytest.fixture(autouse=True)
def system_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The system configuration file of this test (absent until a test writes it)."""
    path = tmp_path / "etc-jukicard.conf"
    monkeypatch.setattr(connect, "DEFAULT_CONFIG", str(path))
    monkeypatch.delenv(connect.FALLBACK_ENV, raising=False)
    monkeypatch.delenv(connect.CONFIG_ENV, raising=False)
    return path


def _conf(tmp_path: Path, text: str, name: str = "j.conf") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _pcsc_down(reader: object = None) -> object:
    exc = ReaderUnavailableError("SCardEstablishContext failed: SCARD_E_NO_SERVICE")
    exc.pcsc_code = 0x8010001D
    raise exc


OFF = "[connect]\nemulated_fallback = off\n"
ON = "[connect]\nemulated_fallback = on\n"


# --------------------------------------------------------------------------- the switch
def test_fallback_enabled_by_default() -> None:
    assert connect.fallback_enabled({})
    assert connect.fallback_setting({}) == connect.FallbackSetting(True)


@pytest.mark.parametrize(("value", "expected"), [("off", False), ("NO", False), ("0", False),
                                                 ("false", False), ("on", True), ("yes", True)])
def test_environment_switch(tmp_path: Path, value: str, expected: bool) -> None:
    env = {connect.FALLBACK_ENV: value, connect.CONFIG_ENV: _conf(tmp_path, ON)}
    assert connect.fallback_enabled(env) is expected


def test_config_file_switch_and_errors(tmp_path: Path) -> None:
    conf = _conf(tmp_path, OFF)
    setting = connect.fallback_setting({connect.CONFIG_ENV: conf})
    assert setting.enabled is False and setting.switched_off_by == conf
    assert connect.fallback_enabled({connect.CONFIG_ENV: _conf(tmp_path, "[connect]\n")})
    for text, words in (("[connect]\nemulated_fallback = maybe\n", "maybe"),
                        ("no section\n", "line 1"), ("[other]\nx = 1\n", "[other]")):
        with pytest.raises(UsageError, match="configuration file") as err:
            connect.fallback_enabled({connect.CONFIG_ENV: _conf(tmp_path, text)})
        assert words in str(err.value)
    with pytest.raises(UsageError, match=connect.FALLBACK_ENV):
        connect.fallback_enabled({connect.FALLBACK_ENV: "perhaps"})


def test_an_off_anywhere_wins_over_an_on(tmp_path: Path, system_file: Path) -> None:
    """Review finding 4: the user's ``JUKICARD_EMULATED_FALLBACK=on`` overrode the
    deployment's ``off`` (old code read the variable first and stopped there)."""
    system_file.write_text(OFF, encoding="utf-8")
    setting = connect.fallback_setting({connect.FALLBACK_ENV: "on"})
    assert setting.enabled is False and setting.switched_off_by == str(system_file)
    env = {connect.FALLBACK_ENV: "off", connect.CONFIG_ENV: _conf(tmp_path, ON)}
    assert connect.fallback_setting(env).switched_off_by == f"{connect.FALLBACK_ENV}=off"


def test_the_system_file_is_read_even_with_jukicard_config(tmp_path: Path,
                                                           system_file: Path) -> None:
    """Review finding 4: naming another file with ``JUKICARD_CONFIG`` stopped
    ``/etc/jukicard/jukicard.conf`` from being read (old code: ``True`` here)."""
    system_file.write_text(OFF, encoding="utf-8")
    assert connect.fallback_enabled({connect.CONFIG_ENV: _conf(tmp_path, ON)}) is False
    assert connect.fallback_setting({connect.CONFIG_ENV: _conf(tmp_path, "")}).sources == (
        str(system_file),)


@pytest.mark.parametrize(("text", "words"), [
    ("[connect]\nemulated_fallback = off%\n", "'off%' is not on/off"),  # no interpolation
    ("[Connect]\nemulated_fallback = off\n", "unknown section [Connect]"),
    ("[connect]\nemulated-fallback = off\n", "unknown key 'emulated-fallback'"),
    ("[DEFAULT]\nemulated_fallback = off\n", "unknown section [DEFAULT]"),
    ("[connect]\nemulated_fallback = off\n[connect]\nemulated_fallback = on\n", "twice"),
])
def test_a_config_that_does_not_say_what_it_means_is_a_usage_error(
        tmp_path: Path, text: str, words: str) -> None:
    """Review finding 4: ``off%`` crashed (``InterpolationSyntaxError``, exit 1); a
    ``[Connect]`` section, an ``emulated-fallback`` key or a ``[DEFAULT]`` section left the
    fallback on (old code: ``True``).  Now each is a usage error naming the file, with no
    configparser text in it."""
    conf = _conf(tmp_path, text)
    with pytest.raises(UsageError) as err:
        connect.fallback_setting({connect.CONFIG_ENV: conf})
    message = str(err.value)
    assert words in message and repr(conf) in message
    assert "Interpolation" not in message and "Error" not in message and "source" not in message


def test_a_named_file_that_is_missing_or_not_a_file_is_a_usage_error(tmp_path: Path) -> None:
    """Review finding 4: ``JUKICARD_CONFIG`` naming a missing file, ``/dev/null`` or a
    directory, or a file that is not UTF-8, left the fallback on (old code: ``True`` for the
    first two)."""
    cases = {str(tmp_path / "missing.conf"): "does not exist", os.devnull: "not a regular file",
             str(tmp_path): "not a regular file"}
    latin = tmp_path / "latin.conf"
    latin.write_bytes(b"\xff[connect]\nemulated_fallback = off\n")
    cases[str(latin)] = "not UTF-8"
    for path, words in cases.items():
        with pytest.raises(UsageError, match=words):
            connect.fallback_setting({connect.CONFIG_ENV: path})


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """Review finding 4: ``JUKICARD_CONFIG`` naming a FIFO hung the command (old code
    blocked in ``open`` waiting for a writer; here the process is killed by the hang guard
    and the test fails).  Now it is refused at once: not a regular file."""
    fifo = tmp_path / "fifo.conf"
    os.mkfifo(fifo)
    code = ("from jukicard.errors import UsageError\n"
            "from jukicard.services import connect\n"
            f"connect.DEFAULT_CONFIG = {str(tmp_path / 'none')!r}\n"
            "try:\n    connect.fallback_setting()\nexcept UsageError as exc:\n"
            "    print(exc)\n")
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT, connect.CONFIG_ENV: str(fifo)}
    env.pop(connect.FALLBACK_ENV, None)
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("reading a FIFO as the configuration file hung")
    assert proc.returncode == 0, proc.stderr
    assert "not a regular file" in proc.stdout


# --------------------------------------------------------------------------- the library
def test_the_library_does_not_fall_back_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding 3: ``open_transport()`` defaulted to ``fallback=True``, so an
    integrator's terminal with PC/SC down read the test persona's My Number.  Now the
    default is no fallback."""
    with pytest.raises(ReaderUnavailableError):
        connect.open_transport(pcsc_factory=_pcsc_down)
    with pytest.raises(ReaderUnavailableError):
        connect.open_with_source(pcsc_factory=_pcsc_down)


def test_even_an_asked_fallback_obeys_the_deployment_switch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding 3: with ``JUKICARD_EMULATED_FALLBACK=off`` the library still fell
    back (it never read the switch) and ``read_my_number`` returned the test persona's
    number.  Now ``fallback=True`` obeys the switch: the reader error comes through."""
    monkeypatch.setenv(connect.FALLBACK_ENV, "off")
    read: list[str] = []
    with pytest.raises(ReaderUnavailableError):
        with connect.open_transport(fallback=True, pcsc_factory=_pcsc_down) as transport:
            read.append(read_my_number(transport, ScriptedInteraction(["1234"])).digits)
    assert read == []


def test_open_with_source_says_where_the_card_is(tmp_path: Path) -> None:
    def no_reader(reader: object = None) -> object:
        raise NoReaderError("no PC/SC reader is attached")

    transport, source = connect.open_with_source(pcsc_factory=no_reader, fallback=True,
                                                 notify=lambda m: None)
    transport.close()
    assert source == connect.CardSource("emulated", "mynumber-01", fallback=True,
                                        profile="mynumber-01")
    assert str(source) == "emulated card 'mynumber-01'"
    with pytest.raises(NoReaderError):
        connect.open_with_source(pcsc_factory=no_reader)
    transport, source = connect.open_with_source(emulated=True)
    transport.close()
    assert source.to_json() == {"kind": "emulated", "name": "mynumber-01", "fallback": False,
                                "profile": "mynumber-01"}


def test_the_card_source_names_the_profile_path_given(tmp_path: Path) -> None:
    """Review finding 14: ``--profile PATH`` was reported by the profile's internal name
    (``mynumber-01``) whatever the path; now the path given, and the name."""
    path = tmp_path / "copy.json"
    path.write_bytes(resolve_profile_path("mynumber-01").read_bytes())
    transport, source = connect.open_with_source(profile=str(path))
    transport.close()
    assert source.to_json() == {"kind": "emulated", "name": str(path), "fallback": False,
                                "profile": "mynumber-01"}
    assert str(source) == f"emulated card {str(path)!r} (profile 'mynumber-01')"


def test_may_fall_back() -> None:
    dead = ReaderUnavailableError("reader unplugged")
    dead.pcsc_code = 0x80100017
    down = ReaderUnavailableError("no service")
    down.pcsc_code = 0x8010001D
    assert connect.may_fall_back(NoReaderError("x"))
    assert connect.may_fall_back(down) and not connect.may_fall_back(dead)
    assert not connect.may_fall_back(ValueError("x"))
