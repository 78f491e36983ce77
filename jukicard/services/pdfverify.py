"""PDF signature verification as a use case (``jukicard signature verify signed.pdf``).

Every signature of the PDF is checked (:mod:`jukicard.pki.pdfverify`: subfilter, ByteRange,
revision coverage, later modifications, the ``/Contents`` CMS with jukicard's verifier, the
ESS signing-certificate attribute, the signature time stamp) and, with ``--anchor`` or
``--preset jpki``, each signer's certificate path is validated by jukicard's strict validator
(:func:`~jukicard.services.verify.build_validation`: CRLs, ``--at``), a JPKI sign certificate
(署名用) required under the JPKI profile unless ``--usage`` says otherwise.

The time-stamp authority's certificate: with ``--anchor``, its path is validated by the
generic RFC 5280 validator (``rfc5280`` preset: a TSA certificate is not a JPKI certificate,
so the JPKI profile and ``--usage`` do not apply to it) with the same anchors,
intermediates, CRLs and time, when it chains to one of those anchors.  When it does not,
or with ``--preset jpki`` and the bundled J-LIS roots (they certify no TSA), the timestamp
object says ``"path": null`` and its message says the TSA path was not validated — the
token's own signature, its imprint and the TSA's timeStamping usage are still checked.  A
timestamp that fails any check (its path included, when validated) makes its signature
invalid.

The result (:class:`~jukicard.services.verify.VerifyReport`)::

    {"valid", "reason", "message", "at", "format": "pdf", "file_size", "revisions",
     "unsigned_bytes_after", "signatures": [signature_json(..., field=, revision=,
     sub_filter=, coverage={"byte_range", "covers_revision", "whole_file",
     "unsigned_bytes_after", "modification", "changed_fields"})]}

``valid`` only when there is at least one signature (else ``no-signature``) and every
signature (and, when validated, its path and its time stamp's) is valid.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jukicard.errors import ValidationError
from jukicard.services.inputs import open_input, read_input
from jukicard.services.sigresult import (
    TsaValidation,
    min_key_bits,
    refuse_ignored_path_options,
    signature_json,
    timestamp_json,
)
from jukicard.services.verify import (
    ValidationSetup,
    VerifyOptions,
    VerifyReport,
    apply_usage,
    build_validation,
    iso_time,
)

__all__ = ["is_pdf_file", "verify_pdf"]


def is_pdf_file(path: str, option: str = "FILE") -> bool:
    """True when the file ``path`` starts like a PDF (``%PDF-`` in its first 1024 bytes);
    only that much is read.

    :raises InputError: the file cannot be opened or is not a regular file.
    """
    from jukicard.pki.pdfbase import looks_like_pdf

    with open_input(path, option=option) as stream:
        return looks_like_pdf(stream.read(1024))


def _signature_result(sig: Any, check: Any, setup: ValidationSetup | None,
                      tsa: TsaValidation | None) -> dict[str, Any]:
    """``signature_json`` of one PDF signature (``check``: a PdfSignatureCheck or the
    ValidationError its verification raised)."""
    from jukicard.pki.certs import Certificate

    extra: dict[str, Any] = {"field": sig.field, "revision": sig.revision,
                             "sub_filter": None if sig.sub_filter is None
                             else sig.sub_filter.lstrip("/"),
                             "coverage": None if sig.coverage is None else sig.coverage.to_json()}
    if isinstance(check, ValidationError):
        return signature_json(index=sig.index, valid=False, reason=str(check.reason),
                              message=str(check), **extra)
    signer = check.signer
    timestamp = timestamp_json(check.timestamp, check.timestamp_error, tsa)
    path = None
    valid, reason = True, "ok"
    message = "signature valid (certificate not validated: no --anchor, no --preset jpki)"
    if setup is not None:
        result = apply_usage(setup.validator.validate(
            Certificate.from_cryptography(signer.certificate), setup.at), setup.usage)
        path = setup.result_json(result)
        valid, reason = bool(result.valid), str(result.reason)
        message = ("signature and certificate path valid" if valid
                   else f"signature valid, certificate path invalid: {result.message}")
    if valid and timestamp is not None and not timestamp["valid"]:
        valid, reason = False, timestamp["reason"]
        message = f"signature valid, time stamp invalid: {timestamp['message']}"
    return signature_json(index=sig.index, valid=valid, reason=reason, message=message,
                          certificate=signer.certificate, hash_name=signer.digest_algorithm,
                          scheme=signer.scheme,
                          signing_time=signer.signing_time or sig.signing_time,
                          cades_bes=check.cades_bes, timestamp=timestamp, path=path, **extra)


def _summary(results: list[dict[str, Any]], validated: bool) -> tuple[bool, str, str]:
    bad = next((r for r in results if not r["valid"]), None)
    if bad is not None:
        return False, bad["reason"], (f"signature #{bad['index']} (field {bad['field']!r}) "
                                      f"invalid: {bad['message']}")
    n = len(results)
    what = f"{n} signature{'s' if n > 1 else ''}"
    if validated:
        return True, "ok", f"{what} and certificate paths valid"
    return True, "ok", (f"{what} valid (certificates not validated: no --anchor, no "
                        "--preset jpki)")


def verify_pdf(path: str, options: VerifyOptions, *, allow_sha1: bool = False
               ) -> VerifyReport:
    """Verify every signature of the PDF ``path`` and, with ``options.anchors`` or the
    jpki preset, each signer's certificate path (``signature verify signed.pdf``).

    :param allow_sha1: accept SHA-1 digests (old data).
    :raises UsageError: the file is unreadable or larger than
        :data:`~jukicard.pki.pdfverify.MAX_PDF_SIZE`; path-validation options without
        anchors or the jpki preset.
    :raises InputError: (a :class:`UsageError`) an anchor, intermediate or CRL file that
        does not hold what its option needs.
    """
    from jukicard.pki.certs import Certificate
    from jukicard.pki.pdfverify import MAX_PDF_SIZE, read_pdf_signatures

    refuse_ignored_path_options(options, "the signers' certificates are")
    data = read_input(path, option="FILE", what="PDF", limit=MAX_PDF_SIZE)
    at = options.validation_time()
    options = dataclasses.replace(options, at=at)  # one "now" for the whole run
    out: dict[str, Any] = {"valid": False, "reason": None, "message": "", "at": iso_time(at),
                           "format": "pdf", "file_size": len(data), "revisions": None,
                           "unsigned_bytes_after": None, "signatures": []}
    try:
        doc = read_pdf_signatures(data)
    except ValidationError as exc:
        out.update(reason=str(exc.reason), message=str(exc))
        return VerifyReport(False, out)
    out.update(revisions=doc.revisions, unsigned_bytes_after=doc.unsigned_bytes_after)
    if not doc.signatures:
        out.update(reason="no-signature", message="the PDF has no signature")
        return VerifyReport(False, out)
    checks: list[Any] = []
    for sig in doc.signatures:
        try:
            checks.append(sig.verify(min_key_size=min_key_bits(options),
                                     allow_sha1=allow_sha1))
        except ValidationError as exc:
            checks.append(exc)
    setup = tsa = None
    try:
        if options.validates_path:
            pool = [Certificate.from_cryptography(c) for check in checks
                    if not isinstance(check, ValidationError) for c in check.certificates
                    + (check.timestamp.certificates if check.timestamp is not None else ())]
            # a PDF document signature must come from a JPKI sign certificate (署名用)
            # under the JPKI profile unless --usage says otherwise
            setup = build_validation(options, extra_intermediates=pool, default_usage="sign")
            tsa = TsaValidation(options, pool)
        results = [_signature_result(sig, check, setup, tsa)
                   for sig, check in zip(doc.signatures, checks, strict=True)]
    except ValidationError as exc:  # an input file of an option (an InputError is usage)
        out.update(reason=str(exc.reason), message=str(exc))
        return VerifyReport(False, out)
    valid, reason, message = _summary(results, setup is not None)
    out.update(valid=valid, reason=reason, message=message, signatures=results)
    return VerifyReport(valid, out)
