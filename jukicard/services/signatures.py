"""Signature verification as a use case (``signature verify``): a raw card signature or a
CMS SignedData, and with anchors the signer certificate path(s).

``signature verify`` accepts whatever ``jukicard sign`` writes: the raw signature bytes
(``-o``), base64 text (the default output) or its ``--json`` object; the hash is read from
the DigestInfo inside the signature (a different explicit ``hash_alg`` is a bad signature).
The signed document is hashed as a stream; a CMS's content is read whole, capped
(:data:`~jukicard.services.inputs.MAX_CMS_CONTENT`: the CMS verifier takes bytes).

::

    report = verify_signature("doc.pdf", "doc.sig", SignatureOptions(certificate="sign.pem"),
                              VerifyOptions(anchors=("root.cer",), crls=("root.crl",)))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from jukicard.errors import UsageError, ValidationError
from jukicard.services.inputs import (
    MAX_BLOCK,
    MAX_CERTIFICATE,
    MAX_CMS_CONTENT,
    MAX_SIGNATURE,
    hash_file,
    open_input,
    read_input,
)
from jukicard.services.sigresult import (
    TsaValidation,
    min_key_bits,
    refuse_ignored_path_options,
)
from jukicard.services.verify import (
    VerifyOptions,
    VerifyReport,
    apply_usage,
    build_validation,
    failure_json,
    iso_time,
    option_input_error,
)

__all__ = ["SignatureOptions", "MAX_SIGNATURE_JSON", "decode_signature", "verify_signature"]

#: Largest ``jukicard sign --json`` object read as JSON (it is about 1 KiB); the same as
#: :data:`jukicard.pki.signatures.MAX_SIGNATURE_JSON` (a test checks it).
MAX_SIGNATURE_JSON = 64 * 1024


@dataclass(frozen=True)
class SignatureOptions:
    """What the signature of ``signature verify`` is over.

    :ivar certificate: the signer certificate file (needed for a raw signature; a candidate
        for a CMS).
    :ivar mode: ``"message"`` (FILE is the signed data, hashed as a stream), ``"digest"``
        (FILE holds its hash) or ``"raw"`` (FILE holds the exact bytes the card signed).
    :ivar hash_alg: the expected hash; ``None`` = the one named in the signature.
    :ivar allow_sha1: accept SHA-1 (old 住基カード-era data only).
    """

    certificate: str | None = None
    mode: Literal["message", "digest", "raw"] = "message"
    hash_alg: str | None = None
    allow_sha1: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("message", "digest", "raw"):
            raise UsageError("mode must be 'message', 'digest' or 'raw'")
        if self.hash_alg == "sha1" and not self.allow_sha1:
            raise UsageError("SHA-1 is accepted only with --allow-sha1 (old data)")


def decode_signature(blob: bytes, size: int) -> tuple[bytes, str]:
    """The raw signature in what ``jukicard sign`` wrote, and its encoding: see
    :func:`jukicard.pki.signatures.decode_signature` (imported at call time: importing this
    module loads no cryptography)."""
    from jukicard.pki.signatures import decode_signature as decode

    return decode(blob, size)


def _pinned_certificate(sig: SignatureOptions) -> Any:
    """The ``--cert`` certificate (cryptography), or ``None``.

    :raises InputError: unreadable, too large, or not a certificate (the operator's
        mistake: exit 2, never "signature invalid").
    """
    from jukicard.pki.signatures import load_certificate

    if sig.certificate is None:
        return None
    data = read_input(sig.certificate, option="--cert", what="certificate",
                      limit=MAX_CERTIFICATE)
    try:
        return load_certificate(data)
    except ValidationError as exc:
        raise option_input_error("--cert", sig.certificate, exc, data, "certificate") from exc


def _looks_like_cms_file(path: str) -> bool:
    """Whether the file starts like a CMS SignedData (its first 64 bytes; an unreadable
    file is not one here: reading it properly reports the problem)."""
    from jukicard.pki.cms import looks_like_cms

    if path == "-":
        return False  # stdin is the document: never read ahead of the hash
    try:
        with open_input(path, option="FILE") as stream:
            return looks_like_cms(stream.read(64))
    except (UsageError, ValidationError):
        return False


def _raw_signature(data_path: str, blob: bytes, cert: Any,
                   sig: SignatureOptions, options: VerifyOptions) -> tuple[dict[str, Any], Any]:
    """Verify a PKCS#1 v1.5 signature; returns (JSON ``signature`` object, signer cert)."""
    from jukicard.pki.signatures import (
        SignatureInvalidError,
        parse_digest_info,
        recover_digest_info,
        rsa_public_key,
        verify_pkcs1v15,
    )

    if cert is None:
        if _looks_like_cms_file(data_path):
            raise UsageError("FILE is a CMS and SIG is not: the order is signature verify "
                             "FILE SIG (the signed data first, then its CMS)")
        raise UsageError("a raw signature needs the signer certificate (--cert)")
    size = (rsa_public_key(certificate=cert, check_key_usage=False).key_size + 7) // 8
    signature, encoding = decode_signature(blob, size)
    common: dict[str, Any] = {"certificate": cert, "min_key_size": min_key_bits(options),
                              "allow_sha1": sig.allow_sha1}
    if sig.mode == "raw":
        block = read_input(data_path, option="FILE", what="signed block", limit=MAX_BLOCK)
        vs = verify_pkcs1v15(signature, raw=block, **common)
        mode = "raw"
    else:
        hash_name, _ = parse_digest_info(recover_digest_info(
            signature, certificate=cert, min_key_size=min_key_bits(options)))
        if sig.hash_alg is not None and sig.hash_alg != hash_name:
            raise SignatureInvalidError(
                f"the signature is over a {hash_name} digest, not {sig.hash_alg} (--hash)")
        if sig.mode == "digest":
            digest = read_input(data_path, option="FILE", what="digest", limit=MAX_BLOCK)
        else:
            digest = hash_file(data_path, hash_name, option="FILE")
        vs = verify_pkcs1v15(signature, digest=digest, hash_alg=hash_name, **common)
        mode = sig.mode
    return ({"valid": True, "format": "pkcs1v15", "mode": mode, "hash": vs.hash_alg,
             "key_size": vs.key_size, "weak_hash": vs.weak_hash, "encoding": encoding}, cert)


def _cms_signature(data_path: str | None, blob: bytes, pinned: Any,
                   sig: SignatureOptions, options: VerifyOptions
                   ) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """Verify every SignerInfo of a CMS; returns (JSON object, one
    :class:`~jukicard.pki.cms.SignerOutcome` per SignerInfo, CMS certs).

    With ``pinned`` (``--cert``) every SignerInfo must be signed by that certificate.
    ``data_path`` ``None``: the CMS must be attached (``signature verify FILE.p7s``).

    :raises UsageError: a detached CMS without its content.
    :raises ValidationError: the CMS does not parse; an attached CMS whose content is not
        FILE.
    """
    from jukicard.pki.certs import Certificate
    from jukicard.pki.cms import SignedData

    if sig.mode != "message":
        raise UsageError("--digest/--raw apply to raw signatures, not to CMS")
    signed = SignedData.parse(blob)
    if data_path is None:
        if signed.detached:
            raise UsageError("this CMS is detached: it does not contain what it signs; give "
                             "the signed file too: signature verify FILE CMS")
        content = signed.content or b""
    else:
        content = read_input(data_path, option="FILE", what="CMS content",
                             limit=MAX_CMS_CONTENT)
    outcomes = signed.check_document(content, pinned=pinned,
                                     min_key_size=min_key_bits(options),
                                     allow_sha1=sig.allow_sha1, what="FILE",
                                     pinned_what="the --cert certificate")
    obj = {
        "valid": all(o.valid for o in outcomes), "format": "cms",
        "detached": signed.detached, "content_type": signed.content_type,
        "signers": [{"hash": s.digest_algorithm, "key_size": s.key_size,
                     "signed_attributes": s.signed_attributes,
                     "signing_time": iso_time(s.signing_time), "weak_hash": s.weak_hash,
                     "scheme": s.scheme, "cades_bes": s.cades_bes,
                     "certificate_sha256": Certificate.from_cryptography(
                         s.certificate).fingerprint}
                    for s in (o.signer for o in outcomes) if s is not None],
    }
    return obj, list(outcomes), list(signed.certificates)


def _signatures_json(signers: list[dict[str, Any]], paths: list[Any] | None,
                     tsa: Any = None) -> list[dict[str, Any]]:
    """One :func:`~jukicard.services.sigresult.signature_json` per signature.

    :param signers: per signature the :func:`signature_json` keywords of the signature
        check (``index``, ``certificate``, ..., and ``error`` when it failed).
    :param paths: the ``(result, result JSON)`` of each signer's path, or ``None`` when
        not validated.
    :param tsa: the :class:`~jukicard.services.sigresult.TsaValidation` of a time stamp's
        TSA path (``None``: not validated).
    """
    from jukicard.services.sigresult import signature_json, timestamp_json

    out = []
    for i, fields in enumerate(signers):
        fields = dict(fields)
        error = fields.pop("error", None)
        if error is not None:
            out.append(signature_json(valid=False, reason=str(error.reason),
                                      message=str(error), **fields))
            continue
        ts = fields.pop("timestamp", None)
        timestamp = None if ts is None else timestamp_json(ts[0], ts[1], tsa)
        valid, reason, message = True, "ok", "signature valid"
        path = None
        if paths is not None:
            result, path = paths[i]
            valid, reason = bool(result.valid), str(result.reason)
            message = ("signature and certificate path valid" if result.valid else
                       f"signature valid, certificate path invalid: {result.message}")
        if valid and timestamp is not None and not timestamp["valid"]:
            valid, reason = False, timestamp["reason"]
            message = f"signature valid, time stamp invalid: {timestamp['message']}"
        out.append(signature_json(valid=valid, reason=reason, message=message, path=path,
                                  timestamp=timestamp, **fields))
    return out


def _outcome_fields(outcome: Any, options: VerifyOptions, allow_sha1: bool
                    ) -> dict[str, Any]:
    """The :func:`_signatures_json` entry of a CMS SignerInfo outcome, with its signature
    time-stamp token checked (:func:`jukicard.pki.tstoken.verify_signature_timestamp`: a
    token over another signature, or one that does not verify, makes the SignerInfo
    invalid, as in a PDF)."""
    from jukicard.pki.tstoken import verify_signature_timestamp

    s = outcome.signer
    if s is None:
        return {"index": outcome.index, "certificate": outcome.certificate,
                "error": outcome.error}
    timestamp = error = None
    try:
        timestamp = verify_signature_timestamp(s.timestamp_tokens, s.signature,
                                               min_key_size=min_key_bits(options),
                                               allow_sha1=allow_sha1)
    except ValidationError as exc:
        error = exc
    return {"index": outcome.index, "certificate": s.certificate,
            "hash_name": s.digest_algorithm, "scheme": s.scheme,
            "signing_time": s.signing_time, "cades_bes": s.cades_bes,
            "timestamp": (timestamp, error)}


def _verify_attached(path: str, signature: SignatureOptions, options: VerifyOptions
                     ) -> VerifyReport:
    """``signature verify FILE`` (no SIG): FILE carries its own signature.  The one place
    that decides what a lone FILE is: an attached CMS today (a PDF, ``%PDF-``, is the next
    branch here).

    :raises UsageError: FILE is not a signed file jukicard can verify alone (a detached
        CMS: its content is needed; a raw signature: the data is).
    """
    from jukicard.pki.cms import looks_like_cms

    blob = read_input(path, option="FILE", what="signed file", limit=MAX_SIGNATURE)
    if looks_like_cms(blob):
        return _verify_blob(None, blob, signature, options)
    raise UsageError("FILE is not an attached CMS: give the signed data and its signature "
                     "(signature verify FILE SIG)")


def verify_signature(data_path: str, sig_path: str | None, signature: SignatureOptions,
                     options: VerifyOptions) -> VerifyReport:
    """Verify a raw card signature or a CMS SignedData over ``data_path``, and with
    ``options.anchors`` or the jpki preset (the bundled J-LIS roots) the signer certificate
    path(s) (``signature verify``).

    ``sig_path`` ``None``: ``data_path`` is an attached CMS, verified alone.

    ``signature.certificate`` (``--cert``) is the signer of a raw signature; for a CMS it
    pins the signer: every SignerInfo must be signed by that certificate, else the result
    is invalid (``signer-not-found``).

    The JSON keeps its keys (``valid``, ``reason``, ``message``, ``at``, ``signature``,
    ``certificate``, ``certificates`` with several signers) and adds ``format``
    (``"cms"`` or ``"pkcs1v15"``) and ``signatures``: one
    :func:`~jukicard.services.sigresult.signature_json` per SignerInfo (the raw signature:
    one), with ``path`` when the path is validated.  With several SignerInfos one bad
    one makes the whole result invalid; ``signatures`` says which.

    :raises UsageError: unreadable or oversized inputs, ``--digest``/``--raw`` with a CMS, a
        raw signature without ``--cert``, path-validation options without anchors or the
        jpki preset (the certificate is not validated then: they would be silently
        ignored), a lone FILE that is not an attached CMS.
    :raises InputError: (a :class:`UsageError`) ``--cert``, an anchor, intermediate or CRL
        file that does not hold what its option needs.
    """
    refuse_ignored_path_options(options, "the signer's certificate is")
    if sig_path is None:
        return _verify_attached(data_path, signature, options)
    blob = read_input(sig_path, option="SIG", what="signature", limit=MAX_SIGNATURE)
    return _verify_blob(data_path, blob, signature, options)


def _verify_blob(data_path: str | None, blob: bytes, signature: SignatureOptions,
                 options: VerifyOptions) -> VerifyReport:
    """:func:`verify_signature` once the signature bytes are read."""
    from jukicard.pki.certs import Certificate
    from jukicard.pki.cms import looks_like_cms

    pinned = _pinned_certificate(signature)
    at = options.validation_time()
    options = dataclasses.replace(options, at=at)  # one "now" for the whole run
    is_cms = looks_like_cms(blob)
    out: dict[str, Any] = {"valid": False, "reason": None, "message": "",
                           "at": iso_time(at), "format": "cms" if is_cms else "pkcs1v15",
                           "signature": None, "certificate": None, "signatures": []}
    cms_certs: list[Any] = []
    try:
        if is_cms:
            out["signature"], outcomes, cms_certs = _cms_signature(
                data_path, blob, pinned, signature, options)
            signers = [_outcome_fields(o, options, signature.allow_sha1) for o in outcomes]
            failed_sig = next((o.error for o in outcomes if o.error is not None), None)
            if failed_sig is not None:
                out["signatures"] = _signatures_json(signers, None)
                raise failed_sig
            targets = [o.signer.certificate for o in outcomes]
        else:
            assert data_path is not None  # a lone FILE is CMS or refused
            out["signature"], signer = _raw_signature(data_path, blob, pinned, signature,
                                                      options)
            targets = [signer]
            signers = [{"index": 1, "certificate": signer, "scheme": "pkcs1v15",
                        "hash_name": out["signature"]["hash"]}]
    except ValidationError as exc:
        many = len(out["signatures"]) > 1
        index = next((s["index"] for s in out["signatures"] if not s["valid"]), None)
        out.update(failure_json(exc, at), signature={"valid": False, "reason": str(exc.reason)},
                   certificate=None)
        if many and index is not None:
            out["message"] = f"SignerInfo #{index}: {exc}"
        for key in ("path", "revocation"):
            out.pop(key)
        return VerifyReport(False, out)

    if not options.validates_path:
        out.update(valid=True, reason="ok", message="signature valid (certificate not "
                   "validated: no --anchor, no --preset jpki)",
                   signatures=_signatures_json(signers, None))
        return _with_timestamp_verdict(out)
    try:
        # a CMS document signature must come from a JPKI sign certificate (署名用): under
        # the JPKI profile an auth certificate (利用者証明用) is refused unless usage says so
        pool = [Certificate.from_cryptography(c) for c in cms_certs + [
            c for f in signers if f.get("timestamp") and f["timestamp"][0] is not None
            for c in f["timestamp"][0].certificates]]
        setup = build_validation(options, extra_intermediates=pool,
                                 default_usage="sign" if is_cms else None)
        certs = [Certificate.from_cryptography(c) for c in targets]
    except ValidationError as exc:
        out.update(reason=str(exc.reason), message=str(exc),
                   signatures=_signatures_json(signers, None))
        return VerifyReport(False, out)
    results = [apply_usage(r, setup.usage)
               for r in setup.validator.validate_many(certs, setup.at)]
    out["signatures"] = _signatures_json(signers, [(r, setup.result_json(r))
                                                   for r in results],
                                         TsaValidation(options, pool))
    failed = next((r for r in results if not r.valid), None)
    shown = failed if failed is not None else results[0]
    out["certificate"] = setup.result_json(shown)
    unique = _distinct(certs, results)
    if len(unique) > 1:
        out["certificates"] = [setup.result_json(r) for r in unique]
    out.update(valid=failed is None, reason=str(shown.reason),
               message="signature and certificate path valid" if failed is None
               else f"signature valid, certificate path invalid: {shown.message}")
    return _with_timestamp_verdict(out)


def _with_timestamp_verdict(out: dict[str, Any]) -> VerifyReport:
    """The report, made invalid by a signature whose time stamp failed (the paths were
    valid): the first such signature gives the reason."""
    if out["valid"]:
        bad = next((s for s in out["signatures"] if not s["valid"]), None)
        if bad is not None:
            out.update(valid=False, reason=bad["reason"],
                       message=f"signature #{bad['index']}: {bad['message']}")
    return VerifyReport(bool(out["valid"]), out)


def _distinct(targets: list[Any], results: list[Any]) -> list[Any]:
    """The results of the distinct signer certificates, in order (a certificate that
    signed two SignerInfos is shown once in ``certificates``, as before)."""
    seen: set[bytes] = set()
    out = []
    for cert, result in zip(targets, results, strict=True):
        if cert.der not in seen:
            seen.add(cert.der)
            out.append(result)
    return out
