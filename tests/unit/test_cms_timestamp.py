"""A signature time-stamp token inside a plain CMS (``signature verify FILE SIG.p7s``) is
checked like one inside a PDF (issue 13 review: a ``.p7s`` whose token was over another
signature, or junk, was reported valid with ``"timestamp": null``; the same CMS inside a PDF
was ``timestamp-invalid``).  The CMS files are the ``/Contents`` of PDFs signed by pyHanko's
own signer with a SOFTWARE key of the test PKI, which stands in for the card, taken out of
the PDF with the bytes they sign."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import cms as _cms

from jukicard.pki.pdfverify import read_pdf_signatures
from jukicard.services.signatures import SignatureOptions, verify_signature
from jukicard.services.verify import VerifyOptions
from jukicard.testing.hostilepdf import AT, PKI, local_tsa, minimal_pdf, sign_pdf

CHAIN = VerifyOptions(anchors=(str(PKI / "ca" / "sign-2023.cer"),),
                      crls=(str(PKI / "crl" / "sign-2023.crl"),), at=AT)


@pytest.fixture(scope="module")
def stamped() -> list[tuple[bytes, bytes]]:
    """(CMS, signed bytes) of two time-stamped signatures (two documents)."""
    out = []
    for text in ("first", "second"):
        doc = read_pdf_signatures(sign_pdf(minimal_pdf(text), timestamper=local_tsa()))
        sig = doc.signatures[0]
        out.append((sig.contents, sig.signed_content()))
    return out


def _files(tmp_path: Path, cms: bytes, content: bytes) -> tuple[str, str]:
    (tmp_path / "doc.bin").write_bytes(content)
    (tmp_path / "doc.p7s").write_bytes(cms)
    return str(tmp_path / "doc.bin"), str(tmp_path / "doc.p7s")


def _with_token_of(cms: bytes, donor: bytes) -> bytes:
    info = _cms.ContentInfo.load(cms)
    other = _cms.ContentInfo.load(donor)
    info["content"]["signer_infos"][0]["unsigned_attrs"] = \
        other["content"]["signer_infos"][0]["unsigned_attrs"]
    return bytes(info.dump(force=True))


def test_software_signer_stands_in_for_card_cms_timestamp_is_reported(
        tmp_path: Path, stamped: list[tuple[bytes, bytes]]) -> None:
    report = verify_signature(*_files(tmp_path, *stamped[0]), SignatureOptions(), CHAIN)
    assert report.valid, report.to_json()["message"]
    ts = report.to_json()["signatures"][0]["timestamp"]
    assert ts is not None and ts["valid"] and ts["time"] == "2026-05-20T09:00:00Z"
    assert ts["path"]["valid"] is True  # the test TSA chains to the test sign root
    assert verify_signature(*_files(tmp_path, *stamped[0]), SignatureOptions(),
                            VerifyOptions()).valid  # no anchors: token still checked


@pytest.mark.parametrize("options", [VerifyOptions(), CHAIN], ids=["no-path", "path"])
def test_software_signer_stands_in_for_card_cms_token_over_another_signature_is_invalid(
        tmp_path: Path, stamped: list[tuple[bytes, bytes]], options: VerifyOptions) -> None:
    """Fails on the code before: valid, ``"timestamp": null``."""
    cms = _with_token_of(stamped[0][0], stamped[1][0])
    report = verify_signature(*_files(tmp_path, cms, stamped[0][1]), SignatureOptions(),
                              options)
    out = report.to_json()
    assert not report.valid and out["reason"] == "timestamp-invalid"
    assert out["signatures"][0]["timestamp"]["valid"] is False


def test_pyhanko_tolerance_warnings_stay_off_the_counter_terminal(tmp_path: Path) -> None:
    """pyHanko logs what it tolerates in a PDF at WARNING ("Superfluous whitespace found in
    object header"); the CLI keeps those off stderr unless --log-level DEBUG (review: they
    reached staff).  Fails on the code before: the WARNING line is on stderr."""
    import os
    import subprocess
    import sys

    data = sign_pdf(minimal_pdf()).replace(b"1 0 obj", b"1  0 obj", 1)
    path = tmp_path / "ws.pdf"
    path.write_bytes(data)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    run = subprocess.run([sys.executable, "-m", "jukicard", "signature", "verify", str(path)],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 5  # the edit is inside the signed bytes: a verdict, no crash
    assert "pyhanko" not in run.stderr
    debug = subprocess.run([sys.executable, "-m", "jukicard", "--log-level", "DEBUG",
                            "signature", "verify", str(path)], capture_output=True, text=True,
                           env=env, timeout=120, check=False)
    assert "Superfluous whitespace" in debug.stderr  # the witness: the file does trigger it


def test_cms_given_first_is_named_as_a_swapped_order(
        tmp_path: Path, stamped: list[tuple[bytes, bytes]]) -> None:
    """``signature verify SIG.p7s FILE`` (the order swapped) said "a raw signature needs the
    signer certificate (--cert)" (final review).  Fails on the code before: that message."""
    from jukicard.errors import UsageError

    content, cms = _files(tmp_path, *stamped[0])
    with pytest.raises(UsageError, match="the order is signature verify FILE SIG"):
        verify_signature(cms, content, SignatureOptions(), VerifyOptions())
    with pytest.raises(UsageError, match="needs the signer certificate"):  # not a CMS
        verify_signature(content, content, SignatureOptions(), VerifyOptions())
