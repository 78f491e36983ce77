"""Suite-wide options and marker handling.

Speeds (see README): ``tests/unit`` (pure), ``tests/emulated`` (in-process emulator),
``tests/integration`` (pcscd + vpcd + emulator bridge; marked ``integration``, OpenSC ones
also ``opensc``), ``tests/device`` (a real card; marked ``device``, opt-in with ``--reader``).

Options:

* ``--reader NAME``   run ``tests/device`` against this PC/SC reader;
* ``--card-id ID``    refuse to touch any card but this one (SHA-256 of its JPKI auth
  certificate, or that certificate's serial number in hex);
* ``--destructive``   also run tests that may lock a PIN on the real card.

Markers are added from the directory, so a test cannot escape ``-m "not device"`` by
forgetting its mark.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from jukicard.keys import KeySession, TokenSettings

TESTS = Path(__file__).resolve().parent

#: directory under tests/ → marker every test in it gets.
DIRECTORY_MARKERS = {
    "integration": "integration",
    "device": "device",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jukicard", "jukicard real-card tests")
    group.addoption(
        "--reader",
        metavar="NAME",
        default=None,
        help="run tests/device on this PC/SC reader (exact name, as pcsc_scan shows it)",
    )
    group.addoption(
        "--card-id",
        metavar="ID",
        default=None,
        help="refuse unless the inserted card matches: SHA-256 (hex) of its JPKI auth "
        "certificate, or the certificate's serial number (hex)",
    )
    group.addoption(
        "--destructive",
        action="store_true",
        default=False,
        help="allow tests that may lock a PIN on the real card (needs --reader and --card-id)",
    )


def _top_directory(item: pytest.Item) -> str | None:
    try:
        rel = Path(str(item.path)).resolve().relative_to(TESTS)
    except ValueError:
        return None
    return rel.parts[0] if len(rel.parts) > 1 else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the markers must be on the items before `-m` deselects by them.
    reader = config.getoption("--reader")
    destructive = config.getoption("--destructive")
    skip_device = pytest.mark.skip(reason="real-card test: give --reader NAME --card-id ID")
    skip_destructive = pytest.mark.skip(reason="may lock a PIN on the real card: add --destructive")
    for item in items:
        marker = DIRECTORY_MARKERS.get(_top_directory(item) or "")
        if marker and marker not in item.keywords:
            item.add_marker(getattr(pytest.mark, marker))
        if "device" in item.keywords and not reader:
            item.add_marker(skip_device)
        if "destructive" in item.keywords and not destructive:
            item.add_marker(skip_destructive)


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenSettings]:
    """The run's one SoftHSM2 token (``tests/softhsm_support.py``: SoftHSM2 sees one token
    directory per process)."""
    from softhsm_support import build_token

    yield from build_token(tmp_path_factory)


@pytest.fixture
def softhsm_keys(softhsm_token: TokenSettings) -> Iterator[KeySession]:
    """A logged-in session on the run's SoftHSM2 token (closed after the test)."""
    from jukicard.keys import KeyStore

    with KeyStore.open(softhsm_token) as ks:
        yield ks
