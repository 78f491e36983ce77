"""``jukicard sign doc.pdf --pdf`` through the real stack (issue 13): a ``python -m
jukicard`` process on the virtual reader (pyscard → pcscd → vpcd → emulator bridge), then
pyHanko's validator and poppler's ``pdfsig`` on the output.

The time-stamp authority is ``jukicard.testing.tsa`` (``openssl ts -reply``) in this test
process; the sign CA of the emulated card is the test root ``vectors/pki/ca/sign-2023.cer``.
Every PIN fed on stdin goes through the PIN ledger (``pins``): one VERIFY per signing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jukicard.testing.pdfinterop import (
    PDFSIG,
    flip_signed_byte,
    fresh_crl,
    pdfsig,
    pyhanko_statuses,
)
from jukicard.testing.tsa import TsaServer

pytestmark = pytest.mark.integration

PinLedger = Any  # conftest.PinLedger (the ``pins`` fixture)
ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "vectors" / "pdf" / "form.pdf"
SIGN_ROOT = (ROOT / "vectors" / "pki" / "ca" / "sign-2023.cer").read_bytes()
#: Synthetic sign password of mynumber-01 (vectors/cards/README.md).  Test data only.
SIGN_PASSWORD = "ABC123"
#: hang guard for one CLI process (not a timed assertion)
CLI_TIMEOUT = 180


@pytest.fixture
def mn(card: Any, pins: PinLedger) -> Any:
    """The session card (mynumber-01), watched by the PIN ledger."""
    pins.watch(card)
    return card


@pytest.fixture(scope="module")
def tsa() -> Iterator[TsaServer]:
    with TsaServer() as server:
        yield server


def _jukicard(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jukicard", *argv], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=CLI_TIMEOUT)


def test_sign_pdf_through_pcscd_then_pyhanko_and_pdfsig(mn: Any, pins: PinLedger,
                                                        tsa: TsaServer,
                                                        tmp_path: Path) -> None:
    first, second = tmp_path / "b-t.pdf", tmp_path / "twice.pdf"
    before = mn.stats()["signatures"]
    res = _jukicard("sign", str(PDF), "--pdf", "--reader", mn.reader, "--pin-stdin",
                    "--tsa", tsa.url, "--visible", "--page", "1", "-o", str(first), "--json",
                    stdin=pins.submit(SIGN_PASSWORD) + "\n")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["level"] == "B-T" and summary["card_source"]["kind"] == "reader"
    res = _jukicard("sign", str(first), "--pdf", "--reader", mn.reader, "--pin-stdin",
                    "--field", "Applicant", "-o", str(second),
                    stdin=pins.submit(SIGN_PASSWORD) + "\n")
    assert res.returncode == 0, res.stderr
    assert mn.stats()["signatures"] - before == 2
    assert SIGN_PASSWORD not in res.stderr

    signed = second.read_bytes()
    crl = fresh_crl("sign-2023")
    statuses = pyhanko_statuses(signed, [SIGN_ROOT, tsa.root_der], [crl])
    assert len(statuses) == 2 and all(s.bottom_line for s in statuses)
    stamped = [s.timestamp_validity for s in statuses if s.timestamp_validity is not None]
    assert len(stamped) == 1 and stamped[0].trusted
    assert not any(s.intact for s in pyhanko_statuses(flip_signed_byte(signed),
                                                      [SIGN_ROOT, tsa.root_der], [crl]))
    if PDFSIG is not None:
        report = pdfsig(signed)
        assert len(report) == 2 and all(s.valid for s in report)
        assert not any(s.valid for s in pdfsig(flip_signed_byte(signed)))
