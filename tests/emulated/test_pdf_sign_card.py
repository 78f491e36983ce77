"""PDF signing with the emulated card (issue 13): ``services.pdfsign.sign_pdf`` and
``jukicard sign doc.pdf --pdf``, checked by pyHanko's validator and poppler's ``pdfsig``.

The emulated card ``mynumber-01`` stands in for a real card; its sign CA is the test root
``vectors/pki/ca/sign-2023.cer``.  The autouse PIN ledger asserts one VERIFY with data per
signing, with the PIN the test gave.  Time stamps come from ``jukicard.testing.tsa``
(``openssl ts -reply``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulated_support import PINS, Emulated, PinLedger
from test_cli_card import Cli, cli  # noqa: F401 - the CLI fixture

from jukicard.errors import PinError, UsageError
from jukicard.pki.pades import MalformedPdfError, PdfStamp
from jukicard.pki.tsaclient import TimestampError
from jukicard.services.interaction import ScriptedInteraction
from jukicard.services.pdfsign import sign_pdf
from jukicard.testing.pdfinterop import (
    PDFSIG,
    flip_signed_byte,
    fresh_crl,
    pdfsig,
    pyhanko_statuses,
)
from jukicard.testing.tsa import TsaServer

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
PDF = (VECTORS / "pdf" / "form.pdf").read_bytes()
ROOT = (VECTORS / "pki" / "ca" / "sign-2023.cer").read_bytes()


@pytest.fixture(scope="module")
def tsa() -> Iterator[TsaServer]:
    with TsaServer() as server:
        yield server


@pytest.fixture(scope="module")
def crl() -> bytes:
    return fresh_crl("sign-2023")


def _valid_everywhere(pdf: bytes, roots: list[bytes], crl: bytes, count: int) -> None:
    statuses = pyhanko_statuses(pdf, roots, [crl])
    assert len(statuses) == count and all(s.bottom_line for s in statuses)
    tampered = pyhanko_statuses(flip_signed_byte(pdf), roots, [crl])
    assert not any(s.intact for s in tampered)
    if PDFSIG is not None:
        assert len(pdfsig(pdf)) == count and all(s.valid for s in pdfsig(pdf))
        assert not any(s.valid for s in pdfsig(flip_signed_byte(pdf)))


@pytest.mark.parametrize("with_tsa", [False, True])
def test_sign_pdf_with_the_card(mynumber: Emulated, pins: PinLedger, tsa: TsaServer,
                                crl: bytes, with_tsa: bool) -> None:
    it = ScriptedInteraction([pins.submit(PINS["sign"])])
    res = sign_pdf(mynumber.transport, it, PDF, tsa_url=tsa.url if with_tsa else None,
                   stamp=PdfStamp(page=1, box=(40, 40, 240, 110)) if with_tsa else None)
    assert len(it.requests) == 1 and mynumber.card.stats.signatures == 1
    assert res.level == ("B-T" if with_tsa else "B-B") and res.visible is with_tsa
    assert (res.timestamp_time is not None) is with_tsa
    assert res.signer_subject not in repr(res) and "pdf=" not in repr(res)
    _valid_everywhere(res.pdf, [ROOT, tsa.root_der], crl, 1)


def test_sign_pdf_twice_both_signatures_stay_valid(mynumber: Emulated, pins: PinLedger,
                                                   crl: bytes) -> None:
    first = sign_pdf(mynumber.transport, ScriptedInteraction([pins.submit(PINS["sign"])]),
                     PDF)
    second = sign_pdf(mynumber.transport, ScriptedInteraction([pins.submit(PINS["sign"])]),
                      first.pdf, field_name="Applicant")
    assert mynumber.card.stats.signatures == 2 and second.pdf.startswith(first.pdf)
    _valid_everywhere(second.pdf, [ROOT], crl, 2)


def test_sign_pdf_wrong_pin_is_pin_error_and_no_signature(mynumber: Emulated,
                                                          pins: PinLedger) -> None:
    with pytest.raises(PinError):
        sign_pdf(mynumber.transport, ScriptedInteraction([pins.submit("WRONG1")]), PDF)
    assert mynumber.card.stats.signatures == 0


def test_sign_pdf_failures_before_the_pin_cost_none(mynumber: Emulated) -> None:
    """A PDF that cannot be signed, a TSA that is down or a bad argument fails before the
    password is asked: nobody is asked, no VERIFY is sent."""
    it = ScriptedInteraction([PINS["sign"]])
    with pytest.raises(MalformedPdfError):
        sign_pdf(mynumber.transport, it, PDF[: len(PDF) // 2])
    with pytest.raises(MalformedPdfError):
        sign_pdf(mynumber.transport, it, b"%PDF-1.7\n" + bytes(100) + b"\n%%EOF\n")
    with TsaServer(mode="http-error") as down, pytest.raises(TimestampError):
        sign_pdf(mynumber.transport, it, PDF, tsa_url=down.url)
    for kwargs in ({"tsa_url": "file:///etc/passwd"}, {"hash_name": "md5"},
                   {"stamp": PdfStamp(page=5, box=(1, 1, 9, 9))},
                   {"field_name": "Applicant", "stamp": PdfStamp(0, (1, 1, 9, 9))}):
        with pytest.raises(UsageError):
            sign_pdf(mynumber.transport, it, PDF, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        sign_pdf(mynumber.transport, it, "not bytes")  # type: ignore[arg-type]
    assert it.requests == [] and mynumber.card.stats.verify_with_data == 0
    assert mynumber.card.stats.signatures == 0


# --------------------------------------------------------------------------- CLI
def test_cli_sign_pdf_then_pyhanko_and_pdfsig(cli: Cli, pins: PinLedger,  # noqa: F811
                                              tmp_path: Path, tsa: TsaServer,
                                              crl: bytes) -> None:
    doc = tmp_path / "form.pdf"
    doc.write_bytes(PDF)
    out = tmp_path / "signed.pdf"
    res = cli.run("sign", str(doc), "--pdf", "-o", str(out), "--tsa", tsa.url, "--visible",
                  "--page", "2", "--box", "300,80,500,150", "--emulated", "--pin-stdin",
                  "--json", stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    summary = json.loads(res.out)
    assert summary["level"] == "B-T" and summary["visible"] is True
    assert summary["field"] == "Signature1" and summary["size"] == out.stat().st_size
    assert summary["timestamp_time"] and summary["output"] == str(out)
    assert out.stat().st_mode & 0o077 == 0  # holds the sign certificate: private
    again = tmp_path / "signed2.pdf"
    res = cli.run("sign", str(out), "--pdf", "--field", "Applicant", "-o", str(again),
                  "--emulated", "--pin-stdin", stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    assert "signed PDF" in res.err
    _valid_everywhere(again.read_bytes(), [ROOT, tsa.root_der], crl, 2)


def test_cli_sign_pdf_wrong_pin_or_tsa_down_leaves_no_file(cli: Cli,  # noqa: F811
                                                           pins: PinLedger,
                                                           tmp_path: Path) -> None:
    doc = tmp_path / "form.pdf"
    doc.write_bytes(PDF)
    res = cli.run("sign", str(doc), "--pdf", "-o", str(tmp_path / "s.pdf"), "--emulated",
                  "--pin-stdin", stdin=pins.submit("WRONG1") + "\n")
    assert res.rc == 3
    with TsaServer(mode="garbage") as bad:
        res = cli.run("sign", str(doc), "--pdf", "-o", str(tmp_path / "s.pdf"), "--tsa",
                      bad.url, "--emulated", "--pin-stdin", stdin="ABC123\n")
    assert res.rc == 5 and "time-stamp" in res.err
    bad_pdf = tmp_path / "bad.pdf"
    bad_pdf.write_bytes(b"%PDF-1.4\ngarbage\n%%EOF\n")
    res = cli.run("sign", str(bad_pdf), "--pdf", "-o", str(tmp_path / "s.pdf"),
                  "--emulated", "--pin-stdin", stdin="ABC123\n")
    assert res.rc == 5 and "PDF" in res.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pdf", "form.pdf"]


@pytest.mark.parametrize("extra", [
    ["--tsa", "http://127.0.0.1:9/"],  # PDF options need --pdf
    ["--pdf", "--cms"],
    ["--pdf", "--key", "auth"],
    ["--pdf", "--visible", "--box", "1,2,3"],
    ["--pdf", "--page", "2"],  # needs --visible
    ["--pdf", "--tsa", "ftp://tsa.example/"],
    ["--pdf", "--tsa-timeout", "3"],  # needs --tsa
    ["--pdf", "--json", "-o", "-"],
    ["--pdf", "NOOUTPUT"],
])
def test_cli_sign_pdf_usage_errors(cli: Cli, tmp_path: Path,  # noqa: F811
                                   extra: list[str]) -> None:
    doc = tmp_path / "form.pdf"
    doc.write_bytes(PDF)
    argv = ["sign", str(doc), *[e for e in extra if e != "NOOUTPUT"], "--emulated",
            "--pin-stdin"]
    if "NOOUTPUT" not in extra and "-o" not in extra:
        argv += ["-o", str(tmp_path / "out.pdf")]
    res = cli.run(*argv, stdin="ABC123\n")
    assert res.rc == 2, res.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["form.pdf"]


def test_cli_sign_pdf_refuses_to_overwrite_its_input(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    doc = tmp_path / "form.pdf"
    doc.write_bytes(PDF)
    res = cli.run("sign", str(doc), "--pdf", "-o", str(doc), "--emulated", "--pin-stdin",
                  stdin="ABC123\n")
    assert res.rc == 2 and doc.read_bytes() == PDF
