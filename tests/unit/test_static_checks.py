"""The static checks issue 8 asks for, run by the test suite so CI keeps them true.

* ``mypy --strict`` is clean on ``jukicard/apdu``, ``transport``, ``card``, ``pki``, ``keys``
  and ``operator`` (issue 12);
* ``mypy`` (the project's settings in ``pyproject.toml``) is clean on the whole package;
* ``ruff check`` is clean on ``jukicard``, ``tests`` and ``drivers``;
* ``requires-python``, mypy's ``python_version`` and ruff's ``target-version`` agree, and
  ``cryptography`` has an upper bound (the major version the suite is tested with).

mypy and ruff come with the ``test`` extra; where they are missing the checks are skipped,
except in CI (``CI`` set), where a missing tool fails the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRICT_PACKAGES = ("apdu", "transport", "card", "pki", "keys", "operator")


def _tool(name: str) -> list[str]:
    if shutil.which(name) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
        pytest.skip(f"{name} is not installed")
    return [name] if name == "ruff" else [sys.executable, "-m", name]


def _run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MYPY_CACHE_DIR": str(tmp_path / "mypy")})


def test_mypy_strict_on_the_card_stack_and_pki(tmp_path: Path) -> None:
    argv = [*_tool("mypy"), "--strict", "--cache-dir", str(tmp_path / "mypy"),
            *(f"jukicard/{p}" for p in STRICT_PACKAGES)]
    res = _run(argv, tmp_path)
    assert res.returncode == 0, res.stdout[-4000:]


def test_mypy_on_the_whole_package(tmp_path: Path) -> None:
    res = _run([*_tool("mypy"), "--cache-dir", str(tmp_path / "mypy"), "jukicard"], tmp_path)
    assert res.returncode == 0, res.stdout[-4000:]


def test_ruff(tmp_path: Path) -> None:
    res = _run([*_tool("ruff"), "check", "--no-cache", "jukicard", "tests", "drivers"], tmp_path)
    assert res.returncode == 0, res.stdout[-4000:]


def test_python_versions_agree_and_cryptography_is_bounded() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requires = config["project"]["requires-python"]
    match = re.fullmatch(r">=\s*3\.(\d+)", requires)
    assert match, requires
    minor = match.group(1)
    assert config["tool"]["mypy"]["python_version"] == f"3.{minor}"
    assert config["tool"]["ruff"]["target-version"] == f"py3{minor}"
    crypto = next(d for d in config["project"]["dependencies"] if d.startswith("cryptography"))
    assert "<" in crypto, crypto
