"""The rows of the CLI contract table (``test_cli_compat.EXIT_ROWS``) that issue 9 changed
on purpose (``issue9=True``): ``--preset jpki|rfc5280``, ``--jpki-profile`` its synonym,
``--usage`` implying it, the J-LIS roots bundled with jukicard as the default anchors of
the jpki preset, and test anchors refused there unless ``--allow-test-anchors``.

Each row fails on the code before issue 9 (its ``old`` exit code): a test anchor was
trusted under ``--jpki-profile`` (0), ``cert verify`` without ``--anchor`` was a usage
error (2), ``signature verify --jpki-profile`` without ``--anchor`` too (2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_cli_compat import EXIT_ROWS, Run, runner

ROWS = [r for r in EXIT_ROWS if r.issue9]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Callable[..., Run]:
    return runner(monkeypatch, capsys, tmp_path)


def test_there_are_issue9_rows() -> None:
    assert len(ROWS) >= 4


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_contract_rows_changed_by_issue9(cli: Callable[..., Run],
                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        row: Any) -> None:
    extra = row.setup(monkeypatch, tmp_path) if row.setup else ()
    res = cli(*row.argv, *extra, stdin=row.stdin)
    assert res.rc == row.rc != row.old, res.err
    assert "Traceback" not in res.err
    if row.rc == 2:
        assert "--allow-test-anchors" in res.err  # says how to trust a test PKI
