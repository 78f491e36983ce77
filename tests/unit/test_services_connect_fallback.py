"""The deployment switch of the emulated-card fallback and the card source
(:mod:`jukicard.services.connect`, issue 8 defect 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jukicard.errors import NoReaderError, ReaderUnavailableError, UsageError
from jukicard.services import connect


def test_fallback_enabled_by_default(tmp_path: Path) -> None:
    assert connect.fallback_enabled({connect.CONFIG_ENV: str(tmp_path / "none.conf")})


@pytest.mark.parametrize(("value", "expected"), [("off", False), ("NO", False), ("0", False),
                                                 ("false", False), ("on", True), ("yes", True)])
def test_environment_switch(tmp_path: Path, value: str, expected: bool) -> None:
    conf = tmp_path / "j.conf"
    conf.write_text("[connect]\nemulated_fallback = on\n", encoding="utf-8")
    env = {connect.FALLBACK_ENV: value, connect.CONFIG_ENV: str(conf)}
    assert connect.fallback_enabled(env) is expected  # the variable wins over the file


def test_config_file_switch_and_errors(tmp_path: Path) -> None:
    conf = tmp_path / "j.conf"
    conf.write_text("[connect]\nemulated_fallback = off\n", encoding="utf-8")
    assert connect.fallback_enabled({connect.CONFIG_ENV: str(conf)}) is False
    conf.write_text("[other]\nx = 1\n", encoding="utf-8")
    assert connect.fallback_enabled({connect.CONFIG_ENV: str(conf)}) is True
    conf.write_text("[connect]\nemulated_fallback = maybe\n", encoding="utf-8")
    with pytest.raises(UsageError, match="maybe"):
        connect.fallback_enabled({connect.CONFIG_ENV: str(conf)})
    conf.write_text("no section\n", encoding="utf-8")
    with pytest.raises(UsageError, match="configuration file"):
        connect.fallback_enabled({connect.CONFIG_ENV: str(conf)})
    with pytest.raises(UsageError, match=connect.FALLBACK_ENV):
        connect.fallback_enabled({connect.FALLBACK_ENV: "perhaps"})


def test_open_with_source_says_where_the_card_is() -> None:
    def no_reader(reader: object = None) -> object:
        raise NoReaderError("no PC/SC reader is attached")

    transport, source = connect.open_with_source(pcsc_factory=no_reader, notify=lambda m: None)
    transport.close()
    assert source == connect.CardSource("emulated", "mynumber-01", fallback=True)
    assert str(source) == "emulated card 'mynumber-01'"
    with pytest.raises(NoReaderError):
        connect.open_with_source(pcsc_factory=no_reader, fallback=False)
    transport, source = connect.open_with_source(emulated=True)
    transport.close()
    assert source.to_json() == {"kind": "emulated", "name": "mynumber-01", "fallback": False}


def test_may_fall_back() -> None:
    dead = ReaderUnavailableError("reader unplugged")
    dead.pcsc_code = 0x80100017
    down = ReaderUnavailableError("no service")
    down.pcsc_code = 0x8010001D
    assert connect.may_fall_back(NoReaderError("x"))
    assert connect.may_fall_back(down) and not connect.may_fall_back(dead)
    assert not connect.may_fall_back(ValueError("x"))
