"""PAdES signing (jukicard.pki.pades, jukicard.pki.tsaclient) with the test PKI.

A SOFTWARE signer holding the test key ``vectors/pki/keys/ee-r1-sign.pem`` stands in for the
card (tests using it say ``software_signer`` in their names): it receives the DigestInfo
and returns the PKCS#1 v1.5 signature, as the JPKI card does with host hashing.  The time
stamps come from ``jukicard.testing.tsa`` (``openssl ts -reply``).  The signed PDFs are
checked by pyHanko's validator and poppler's ``pdfsig`` (tools nobody here wrote).
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms as acms
from cryptography.hazmat.primitives.serialization import Encoding
from test_pki_cmsbuild import CERT, KEY, ROOT, SoftwareCardSigner, _key

from jukicard.errors import JukiError, PinError, UsageError
from jukicard.pki import pades
from jukicard.pki.cmsbuild import CmsSignerFailedError, CmsSignerOutputError
from jukicard.pki.pades import (
    MalformedPdfError,
    PdfStamp,
    build_pades,
    preflight,
)
from jukicard.pki.reasons import Reason
from jukicard.pki.signatures import WeakHashError
from jukicard.pki.tsaclient import TimestampError, TsaClient, check_timestamp_token
from jukicard.testing.pdfinterop import (
    PDFSIG,
    flip_signed_byte,
    fresh_crl,
    pdfsig,
    pyhanko_statuses,
)
from jukicard.testing.tsa import TsaServer

PDF = (Path(__file__).resolve().parents[2] / "vectors" / "pdf" / "form.pdf").read_bytes()
ROOT_DER = ROOT.public_bytes(Encoding.DER)
needs_pdfsig = pytest.mark.skipif(PDFSIG is None, reason="pdfsig (poppler-utils) missing")


@pytest.fixture(scope="module")
def tsa() -> Iterator[TsaServer]:
    with TsaServer() as server:
        yield server


@pytest.fixture(scope="module")
def crl() -> bytes:
    return fresh_crl("sign-2023")


def _sign(pdf: bytes = PDF, signer: Any = None, **kw: Any) -> pades.SignedPdf:
    kw.setdefault("certificate", CERT)
    kw.setdefault("ca_certificates", [ROOT])
    return build_pades(pdf, signer=signer or SoftwareCardSigner(KEY), **kw)


def _assert_interop(pdf: bytes, roots: list[bytes], crl: bytes, count: int) -> None:
    statuses = pyhanko_statuses(pdf, roots, [crl])
    assert len(statuses) == count
    for st in statuses:
        assert st.bottom_line, st.pretty_print_details()
    if PDFSIG is not None:
        report = pdfsig(pdf)
        assert len(report) == count and all(s.valid for s in report), report
        assert sum(s.whole_document for s in report) == 1  # the newest covers the file


def _assert_rejected(pdf: bytes, roots: list[bytes], crl: bytes) -> None:
    statuses = pyhanko_statuses(pdf, roots, [crl])
    assert statuses and not any(st.intact and st.bottom_line for st in statuses)
    if PDFSIG is not None:
        assert not any(s.valid for s in pdfsig(pdf))


# ------------------------------------------------------------------- B-B and B-T interop
@pytest.mark.parametrize("visible", [False, True])
def test_pades_bb_software_signer_pyhanko_and_pdfsig_accept(crl: bytes, visible: bool) -> None:
    signer = SoftwareCardSigner(KEY)
    stamp = PdfStamp(page=0, box=(36, 36, 236, 106)) if visible else None
    res = _sign(signer=signer, stamp=stamp)
    assert len(signer.blocks) == 1 and res.level == "B-B" and res.visible is visible
    assert res.pdf.startswith(PDF) and res.field_name == "Signature1"
    assert "pdf" not in repr(res)
    _assert_interop(res.pdf, [ROOT_DER], crl, 1)
    _assert_rejected(flip_signed_byte(res.pdf), [ROOT_DER], crl)


def test_pades_cms_is_cades_shaped_software_signer() -> None:
    """/SubFilter ETSI.CAdES.detached, ESS signing-certificate-v2, the signer certificate
    and its CA in the bag, PKCS#1 v1.5 (what the card makes)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    res = _sign(hash_name="sha384")
    emb = PdfFileReader(io.BytesIO(res.pdf)).embedded_signatures[0]
    assert emb.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    types = {a["type"].native for a in emb.signer_info["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_certificate_v2"} <= types
    assert emb.signer_info["signature_algorithm"]["algorithm"].native == "rsassa_pkcs1v15"
    assert emb.signer_info["digest_algorithm"]["algorithm"].native == "sha384"
    bag = {c.chosen.dump() for c in emb.signed_data["certificates"]}
    assert bag == {CERT.public_bytes(Encoding.DER), ROOT_DER}


def test_pades_bt_software_signer_timestamp_validates(tsa: TsaServer, crl: bytes) -> None:
    signer = SoftwareCardSigner(KEY)
    client = TsaClient(tsa.url)
    res = _sign(signer=signer, timestamper=client,
                stamp=PdfStamp(page=-1, box=(300, 300, 500, 380)))
    assert len(signer.blocks) == 1 and res.level == "B-T"
    assert res.timestamp_time is not None and client.exchanges == 2  # size probe + real
    statuses = pyhanko_statuses(res.pdf, [ROOT_DER, tsa.root_der], [crl])
    ts = statuses[0].timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted
    _assert_interop(res.pdf, [ROOT_DER, tsa.root_der], crl, 1)
    _assert_rejected(flip_signed_byte(res.pdf), [ROOT_DER, tsa.root_der], crl)


def test_pades_two_signatures_both_validate_software_signer(tsa: TsaServer,
                                                            crl: bytes) -> None:
    """An incremental update keeps the first signature valid: a new field, then the
    form's existing empty field ``Applicant`` (B-T)."""
    first = _sign()
    second = _sign(first.pdf, field_name="Applicant", timestamper=TsaClient(tsa.url))
    assert second.pdf.startswith(first.pdf) and second.field_name == "Applicant"
    _assert_interop(second.pdf, [ROOT_DER, tsa.root_der], crl, 2)
    _assert_rejected(flip_signed_byte(second.pdf), [ROOT_DER, tsa.root_der], crl)


def test_pades_revoked_signer_is_rejected_by_pyhanko_software_signer() -> None:
    """The interop check is not vacuous about trust: a CRL listing the signer fails it,
    and so does a context trusting another root."""
    res = _sign()
    revoked = fresh_crl("sign-2023", revoked=(CERT.serial_number,))
    assert not pyhanko_statuses(res.pdf, [ROOT_DER], [revoked])[0].bottom_line
    other = (Path(__file__).resolve().parents[2] / "vectors/pki/ca/auth-2023.cer").read_bytes()
    assert not pyhanko_statuses(res.pdf, [other], [fresh_crl("auth-2023")])[0].bottom_line


# ------------------------------------------------------------------- the signer
def test_pades_dry_run_never_calls_the_software_signer(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyHanko estimates the CMS size with a dry run first: it gets a placeholder, the
    caller's signer (the card) is called once, for the real signature."""
    seen: list[bool] = []
    original = pades._CallerSigner.async_sign_raw

    async def spy(self: Any, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        seen.append(dry_run)
        return await original(self, data, digest_algorithm, dry_run)

    monkeypatch.setattr(pades._CallerSigner, "async_sign_raw", spy)
    signer = SoftwareCardSigner(KEY)
    _sign(signer=signer)
    assert seen == [True, False] and len(signer.blocks) == 1


def test_pades_wrong_key_software_signer_gives_no_pdf() -> None:
    with pytest.raises(CmsSignerOutputError):
        _sign(signer=SoftwareCardSigner(_key("ee-r1-auth.pem")))


def test_pades_failing_signer_is_typed_and_card_errors_pass() -> None:
    def broken(_block: bytes) -> bytes:
        raise RuntimeError("boom")

    def wrong_pin(_block: bytes) -> bytes:
        raise PinError(retries_left=2)

    with pytest.raises(CmsSignerFailedError):
        _sign(signer=broken)
    with pytest.raises(PinError):
        _sign(signer=wrong_pin)


# ------------------------------------------------------------------- fields and stamps
def test_pades_field_and_stamp_usage_errors_cost_no_signature() -> None:
    signed = _sign(field_name="Applicant").pdf
    signer = SoftwareCardSigner(KEY)
    cases: list[dict[str, Any]] = [
        {"pdf": signed, "field_name": "Applicant"},  # already signed
        {"field_name": "Applicant", "stamp": PdfStamp(0, (1, 1, 50, 50))},  # fixed place
        {"stamp": PdfStamp(2, (1, 1, 50, 50))},  # the form has 2 pages
        {"field_name": "a.b"}, {"field_name": ""}, {"hash_name": "md5"}, {"reason": 5},
    ]
    for case in cases:
        pdf = case.pop("pdf", PDF)
        with pytest.raises(UsageError):
            _sign(pdf, signer=signer, **case)
    for box in [(10, 10, 5, 50), (0, 0, 0, 0), (1, 2, 3), (-1, 0, 5, 5)]:
        with pytest.raises(UsageError):
            PdfStamp(0, box)  # type: ignore[arg-type]
    with pytest.raises(WeakHashError):
        _sign(signer=signer, hash_name="sha1")
    assert signer.blocks == []
    assert preflight(PDF) == "Signature1" and preflight(signed) == "Signature1"


# ------------------------------------------------------------------- hostile PDFs
def _encrypted_pdf() -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    src = IncrementalPdfFileWriter(io.BytesIO(PDF)).prev
    w = copy_into_new_writer(src)
    w.encrypt("owner", "user")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _broken_xref() -> bytes:
    at = PDF.rindex(b"startxref") + len(b"startxref\n")
    end = PDF.index(b"\n", at)
    return PDF[:at] + b"999999" + PDF[end:]


HOSTILE = {
    "empty": b"",
    "not-a-pdf": b"hello world\n%%EOF\n",
    "truncated": PDF[: len(PDF) // 2],
    "broken-xref": _broken_xref(),
    "header-only": b"%PDF-1.7\n%%EOF\n",
    "xref-garbage": PDF.replace(b"xref\n", b"xref\nZZ ", 1),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_pades_hostile_pdf_is_malformed_pdf_error(name: str) -> None:
    signer = SoftwareCardSigner(KEY)
    with pytest.raises(MalformedPdfError) as info:
        _sign(HOSTILE[name], signer=signer)
    assert info.value.reason == Reason.MALFORMED_PDF == "malformed-pdf"
    with pytest.raises(MalformedPdfError):
        preflight(HOSTILE[name])
    assert signer.blocks == []


def test_pades_encrypted_pdf_is_refused() -> None:
    with pytest.raises(MalformedPdfError, match="encrypted"):
        _sign(_encrypted_pdf())


def test_pades_oversized_pdf_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pades, "MAX_PDF_SIZE", len(PDF) - 1)
    with pytest.raises(MalformedPdfError, match="larger"):
        _sign()
    with pytest.raises(UsageError):
        _sign("not bytes")  # type: ignore[arg-type]


def test_pades_mutated_pdfs_never_leak_third_party_exceptions() -> None:
    """Deterministic byte mutations of the form: each is signed or ends in a jukicard
    error; nothing from pyHanko/asn1crypto escapes.  A PDF the rehearsal (``preflight``
    with a certificate, what runs before the PIN) accepts is then signed: a damaged PDF
    costs no PIN."""
    rng = random.Random(13)
    outcomes = {"signed": 0, "refused": 0}
    for _ in range(60):
        data = bytearray(PDF)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            preflight(bytes(data), rehearse_with=ROOT)
        except JukiError:
            rehearsed = False
        else:
            rehearsed = True
        signer = SoftwareCardSigner(KEY)
        try:
            _sign(bytes(data), signer=signer)
            outcomes["signed"] += 1
            assert rehearsed
        except JukiError:
            outcomes["refused"] += 1
            assert not rehearsed and signer.blocks == []
    assert outcomes["refused"] > 0 and outcomes["signed"] > 0


# ------------------------------------------------------------------- TSA failures
@pytest.mark.parametrize("mode", ["http-error", "garbage", "rejection",
                                  "wrong-content-type", "huge"])
def test_pades_tsa_failure_is_typed_and_signs_nothing(mode: str) -> None:
    signer = SoftwareCardSigner(KEY)
    with TsaServer(mode=mode) as bad:
        with pytest.raises(TimestampError) as info:
            _sign(signer=signer, timestamper=TsaClient(bad.url))
        assert info.value.reason == "timestamp-failed"
        with pytest.raises(TimestampError):
            TsaClient(bad.url).probe("sha256")
    assert signer.blocks == []


def test_pades_tsa_that_never_answers_times_out() -> None:
    with TsaServer(mode="stall") as stall, pytest.raises(TimestampError):
        TsaClient(stall.url, timeout=0.5).probe("sha256")


def test_pades_tsa_unreachable_and_bad_urls() -> None:
    with TsaServer() as gone:
        url = gone.url
    with pytest.raises(TimestampError):
        TsaClient(url, timeout=2).probe("sha256")
    for bad in ["file:///etc/passwd", "ftp://tsa.example/", "http://", "tsa.example",
                "http://a b/", "http://host:99999/"]:
        with pytest.raises(UsageError):
            TsaClient(bad)


def test_timestamp_token_for_other_data_is_refused(tsa: TsaServer) -> None:
    """pyHanko's HTTP time stamper checks only the nonce of a reply; ours also checks the
    imprint (a TSA answering for other data is refused) and the token's signature."""
    client = TsaClient(tsa.url)
    import asyncio

    token = asyncio.run(client.async_timestamp(bytes(32), "sha256"))
    assert check_timestamp_token(token, hash_name="sha256", digest=bytes(32))
    with pytest.raises(TimestampError, match="imprint"):
        check_timestamp_token(token, hash_name="sha256", digest=b"\x01" * 32)
    with pytest.raises(TimestampError, match="imprint"):
        check_timestamp_token(token, hash_name="sha512", digest=bytes(32))
    broken = acms.ContentInfo.load(token.dump())
    sig = broken["content"]["signer_infos"][0]["signature"]
    damaged = bytearray(sig.native)
    damaged[-1] ^= 1
    broken["content"]["signer_infos"][0]["signature"] = bytes(damaged)
    with pytest.raises(TimestampError, match="does not verify"):
        check_timestamp_token(acms.ContentInfo.load(broken.dump()), hash_name="sha256",
                              digest=bytes(32))
    with pytest.raises(TimestampError):
        check_timestamp_token(acms.ContentInfo.load(token.dump()[:-40] + bytes(40)),
                              hash_name="sha256", digest=bytes(32))

