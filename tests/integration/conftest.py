"""Fixtures for the pcscd + vpcd + emulator integration tests.

::

    test --pyscard--> pcscd --vpcd--> TCP 127.0.0.1:35963 --> python -m jukicard.emulator

* :func:`vpcd_stack` makes sure a pcscd with the vpcd driver is running, through
  ``.ci/vstack.sh up``: it starts one if none runs, or reuses the running one, and takes a claim
  for this test process.  At the end ``.ci/vstack.sh down`` releases the claim; pcscd is
  stopped only if vstack started it and no other run (CI script, another engineer's pytest)
  still holds a claim, and a pcscd that vstack did not start is never stopped.  When the stack
  cannot be had, the tests SKIP on a developer machine but FAIL when the environment variable
  ``CI`` is set, so CI never passes with them silently skipped.
* :func:`bridge` starts ``python -m jukicard.emulator --port 35963 --profile mynumber-01
  --reconnect`` on the first free vpcd slot (``Virtual PCD 00 00``, else ``00 01``; force one
  with ``JUKICARD_VPCD_SLOT=0|1``), waits until pcscd sees the card, and terminates it at the
  end.  ``bridge.remove()`` / ``bridge.insert()`` pull and put back the card.  The emulator
  keeps its card counters in a stats file (``--stats-file``), read with ``bridge.stats()``.
* :func:`fresh_card` puts a fresh copy of a profile into the bridge's slot for one test
  (PIN-blocking and PIN-changing tests, other profiles) and the session card back after it.
* :func:`pins` is the PIN ledger of the integration tests: the PIN invariant of
  ``tests/emulated/conftest.py`` (every PIN a test submits reaches the card exactly once as
  a VERIFY with data, and nothing else does), checked against the emulator's own counters.

The helpers live in ``stack.py`` beside this file (the benchmarks use them too).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


def _load_stack() -> Any:
    name = "jukicard_it_stack"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("stack.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


stack = _load_stack()

PROFILE = os.environ.get("JUKICARD_IT_PROFILE", "mynumber-01")
PKCS11_MODULE = Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")


def unavailable(message: str) -> None:
    """Skip on a developer machine, fail in CI (so CI never passes on skipped tests)."""
    if stack.in_ci():
        pytest.fail(f"integration stack unavailable in CI: {message}", pytrace=False)
    pytest.skip(message)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI, any skip of an integration test is turned into a failure."""
    outcome = yield
    report = outcome.get_result()
    if stack.in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"integration test skipped in CI (not allowed): {reason}"


@pytest.fixture(scope="session")
def vpcd_stack() -> Iterator[tuple[str, ...]]:
    """Reader names of a running pcscd + vpcd (started if needed, released at the end)."""
    try:
        claimed, names = stack.ensure_stack()
    except stack.StackUnavailable as exc:
        unavailable(str(exc))
    try:
        yield tuple(names)
    finally:
        if claimed:
            stack.stop_stack()


@pytest.fixture(scope="session")
def profile_path() -> Path:
    path = Path(PROFILE) if PROFILE.endswith(".json") else stack.PROFILE_DIR / f"{PROFILE}.json"
    if not path.is_file():
        unavailable(f"card profile {path} missing (python -m jukicard.testing.pkigen)")
    return path


@pytest.fixture(scope="session")
def card_profile(profile_path: Path) -> dict[str, Any]:
    return json.loads(profile_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def bridge(
    vpcd_stack: tuple[str, ...], profile_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    run_dir = tmp_path_factory.mktemp("bridge")
    log_path = run_dir / "bridge.log"
    try:
        b = stack.start_bridge(profile_path, log_path, stats_path=run_dir / "stats-0.json")
    except stack.StackUnavailable as exc:
        unavailable(str(exc))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def card(bridge: Any) -> Any:
    """The bridge, with its card inserted (put back if an earlier test left it out)."""
    if bridge.removed or not stack.card_present(bridge.reader):
        bridge.insert()
    return bridge


@pytest.fixture(scope="session")
def opensc_tools() -> None:
    """OpenSC's pkcs15-tool, pkcs11-tool and opensc-pkcs11.so are installed."""
    for tool in ("pkcs15-tool", "pkcs11-tool"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} not installed (package opensc)")
    if not PKCS11_MODULE.exists():
        unavailable(f"{PKCS11_MODULE} missing (package opensc-pkcs11)")


# --------------------------------------------------------------------------- profile helpers
def profile_file(profile: dict[str, Any], app: str, fid: str) -> dict[str, Any]:
    """The file entry *fid* of application *app* in a card profile."""
    for application in profile["applications"]:
        if application["name"] == app:
            for f in application["files"]:
                if f["fid"].upper() == fid.upper():
                    return f
    raise KeyError(f"file {fid} of application {app!r} not in profile {profile.get('name')!r}")


@pytest.fixture(scope="session")
def auth_cert_der(card_profile: dict[str, Any]) -> bytes:
    """The JPKI auth certificate EF 000A exactly as the profile stores it."""
    return bytes.fromhex(profile_file(card_profile, "jpki", "000A")["data"])


@pytest.fixture(scope="session")
def auth_pin(card_profile: dict[str, Any]) -> str:
    """The test card's JPKI auth PIN (synthetic test material, from the profile)."""
    return str(profile_file(card_profile, "jpki", "0018")["value"])


def profile_path_of(name: str) -> Path:
    """The path of card profile *name* (a bare name in ``vectors/cards`` or a ``.json`` path)."""
    path = Path(name) if name.endswith(".json") else stack.PROFILE_DIR / f"{name}.json"
    if not path.is_file():
        unavailable(f"card profile {path} missing (python -m jukicard.testing.pkigen)")
    return path


# --------------------------------------------------------------------------- PIN ledger
@dataclass
class PinLedger:
    """Counts the PINs a test submits and the emulated cards (stats files) it used.

    Tests hand every PIN they expect to reach the card through :meth:`submit`; a PIN the
    library must refuse before sending is passed without it.  At teardown the VERIFY-with-
    data APDUs the watched cards received since :meth:`watch` must equal the PINs submitted.
    """

    submitted: int = 0
    baselines: dict[Path, int] = field(default_factory=dict)

    def submit(self, value: str) -> str:
        """Declare that ``value`` is a PIN the library should send to the card once."""
        self.submitted += 1
        return value

    def watch(self, bridge: Any) -> None:
        """Count the VERIFY-with-data APDUs of the card *bridge* serves from now on."""
        if bridge.stats_path is None:
            raise RuntimeError("bridge has no stats file: cannot check the PIN invariant")
        if bridge.stats_path not in self.baselines:
            self.baselines[bridge.stats_path] = _verify_with_data(bridge.stats_path)

    @property
    def delivered(self) -> int:
        return sum(_verify_with_data(p) - base for p, base in self.baselines.items())


def _verify_with_data(stats_path: Path) -> int:
    return int(json.loads(stats_path.read_text(encoding="utf-8"))["verify_with_data"])


@pytest.fixture
def pins() -> Iterator[PinLedger]:
    """The PIN ledger; asserts the VERIFY-with-data invariant at teardown.

    Card fixtures of the session tests call :meth:`PinLedger.watch`; a test that uses no
    watched card checks nothing.
    """
    ledger = PinLedger()
    yield ledger
    if ledger.baselines:
        assert ledger.delivered == ledger.submitted, (
            f"the card(s) received {ledger.delivered} VERIFY-with-data APDUs but the test "
            f"submitted {ledger.submitted} PINs"
        )


# --------------------------------------------------------------------------- fresh cards
_SWAPS = itertools.count(1)


@pytest.fixture
def fresh_card(
    bridge: Any, tmp_path: Path, pins: PinLedger
) -> Iterator[Callable[..., Any]]:
    """``fresh_card(profile=PROFILE)``: put a fresh copy of *profile* into the bridge's slot.

    The copy lives in ``tmp_path``, so PIN counters start from the profile's values and
    whatever the test does to them (blocking a PIN, changing it) is thrown away.  Returns the
    bridge, now serving the copy (watched by the PIN ledger).  At teardown the session card
    (a fresh emulator of the session profile) goes back into the slot.
    """
    original = (bridge.profile_path, bridge.log_path, bridge.stats_path)
    swapped = False

    def load(profile: str = PROFILE) -> Any:
        nonlocal swapped
        n = next(_SWAPS)
        copy = tmp_path / f"card-{n}.json"
        shutil.copyfile(profile_path_of(profile), copy)
        swapped = True
        try:
            bridge.swap(copy, tmp_path / f"bridge-{n}.log", tmp_path / f"stats-{n}.json")
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        pins.watch(bridge)
        return bridge

    yield load
    if swapped:
        profile_path, log_path, stats_path = original
        # a new stats file: the ledger may still read the ones it watched
        fresh_stats = stats_path.with_name(f"stats-{next(_SWAPS)}.json") if stats_path else None
        bridge.swap(profile_path, log_path, fresh_stats)
