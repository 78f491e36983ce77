"""Certificate and signature verification as use cases: ``cert verify``, ``signature verify``.

The CLI, a console and the bulk verifier share these functions; none of them needs click.
The options are a frozen :class:`VerifyOptions` (the validation policy is built from it:
trust anchors, intermediates, CRLs from files, URLs or the certificates' own distribution
points, the validation time, RFC 5280 policy inputs, the JPKI profile), and each use case
returns a :class:`VerifyReport`: ``valid`` plus the JSON object the CLI prints::

    options = VerifyOptions(anchors=("root.cer",), crls=("root.crl",), jpki_profile=True)
    report = verify_certificate("leaf.cer", options)
    report.valid, report.to_json()["reason"]

An input that does not parse is a failed validation (``valid`` false, reason
``malformed-…``), named by its option and file; a missing or oversized file is a
:class:`~jukicard.errors.UsageError`.  Input sizes are capped (:mod:`.inputs`); documents
are hashed as a stream.

``signature verify`` accepts whatever ``jukicard sign`` writes: the raw signature bytes
(``-o``), base64 text (the default output) or its ``--json`` object; the hash is read from
the DigestInfo inside the signature (a different explicit ``hash_alg`` is a bad signature).
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import datetime as _dt
import hmac
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jukicard.errors import UsageError, ValidationError
from jukicard.services.inputs import (
    MAX_BLOCK,
    MAX_CERTIFICATE,
    MAX_CMS_CONTENT,
    MAX_CRL,
    MAX_SIGNATURE,
    display_path,
    hash_file,
    read_input,
)

__all__ = [
    "VerifyOptions",
    "SignatureOptions",
    "VerifyReport",
    "InputFileError",
    "ValidationSetup",
    "parse_at",
    "iso_time",
    "check_policy_oid",
    "build_validation",
    "result_to_json",
    "verify_certificate",
    "verify_signature",
    "decode_signature",
]

log = logging.getLogger(__name__)

_USAGES = (None, "sign", "auth")
_OID = re.compile(r"^(?:[01]\.(?:[0-9]|[1-3][0-9])|2\.(?:0|[1-9][0-9]*))(?:\.(?:0|[1-9][0-9]*))*$")


# --------------------------------------------------------------------------- options
def parse_at(value: str | None, option: str = "--at") -> _dt.datetime:
    """Parse a validation time (ISO 8601; ``Z`` allowed; no zone = UTC); ``None`` = now.

    :raises UsageError: not an ISO 8601 time, or outside the range of dates (year 1–9999
        in UTC), naming ``option``.
    """
    if value is None:
        return _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        t = _dt.datetime.fromisoformat(text)
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.UTC)
        return t.astimezone(_dt.UTC)
    except ValueError as exc:
        raise UsageError(f"{option} {value!r} is not an ISO 8601 time "
                         "(e.g. 2026-06-01T00:00:00Z)") from exc
    except OverflowError as exc:
        raise UsageError(f"{option} {value!r} is outside the range of dates "
                         "(years 1 to 9999, UTC)") from exc


def iso_time(t: _dt.datetime | None) -> str | None:
    """``2026-06-01T00:00:00Z`` (UTC), or ``None``."""
    if t is None:
        return None
    return t.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")


def check_policy_oid(oid: str, option: str = "--policy") -> str:
    """Return ``oid`` if it is a dotted OID (``1.2.392.200149.8.5.1.1.20``).

    :raises UsageError: not a dotted OID (first arc 0–2, second arc < 40 under 0 and 1, no
        leading zeros, no empty arc), naming ``option``.
    """
    if not isinstance(oid, str) or not _OID.match(oid):
        raise UsageError(f"{option} {oid!r} is not an OID (dotted numbers such as "
                         "1.2.392.200149.8.5.1.1.20)")
    return oid


@dataclass(frozen=True)
class VerifyOptions:
    """How to validate certificate paths (the options of ``cert verify`` and
    ``signature verify``).

    :ivar anchors: trust-anchor files (DER or PEM; a PEM file may hold several).
    :ivar intermediates: intermediate CA certificate files.
    :ivar crls: CRL files or http(s) URLs.
    :ivar crl_cache: cache directory for CRLs fetched by URL.
    :ivar fetch_crls: also fetch CRLs from the certificates' http distribution points.
    :ivar no_revocation: do not check revocation (else a usable CRL is required).
    :ivar at: the validation time (aware; ``None`` = now, UTC).
    :ivar policies: acceptable policy OIDs (user-initial-policy-set; empty = anyPolicy).
    :ivar explicit_policy: / :ivar inhibit_mapping: / :ivar inhibit_any_policy: the other
        RFC 5280 §6.1.1 inputs.
    :ivar jpki_profile: the JPKI policy (RSA ≥ 2048, SHA-256+, JPKI profile) instead of the
        generic RFC 5280 one.
    :ivar usage: require a JPKI ``"sign"`` or ``"auth"`` certificate (implies the profile).
    :ivar min_rsa_bits: smallest RSA key in the path (default 2048 with the profile, else
        1024).
    :raises UsageError: a malformed policy OID, an unknown usage, a negative key size, a
        naive ``at``.
    """

    anchors: tuple[str, ...] = ()
    intermediates: tuple[str, ...] = ()
    crls: tuple[str, ...] = ()
    crl_cache: str | None = None
    fetch_crls: bool = False
    no_revocation: bool = False
    at: _dt.datetime | None = None
    policies: tuple[str, ...] = ()
    explicit_policy: bool = False
    inhibit_mapping: bool = False
    inhibit_any_policy: bool = False
    jpki_profile: bool = False
    usage: str | None = None
    min_rsa_bits: int | None = None

    def __post_init__(self) -> None:
        for name in ("anchors", "intermediates", "crls", "policies"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for oid in self.policies:
            check_policy_oid(oid)
        if self.usage not in _USAGES:
            raise UsageError("--usage must be 'sign' or 'auth'")
        if self.min_rsa_bits is not None and self.min_rsa_bits < 0:
            raise UsageError("--min-rsa-bits must be >= 0")
        if self.at is not None and self.at.tzinfo is None:
            raise UsageError("the validation time must carry a time zone")

    @property
    def jpki(self) -> bool:
        """True when the JPKI policy applies (``jpki_profile`` or a ``usage``)."""
        return self.jpki_profile or self.usage is not None

    def validation_time(self) -> _dt.datetime:
        """:attr:`at`, or now (UTC, whole seconds)."""
        return self.at if self.at is not None else parse_at(None)


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


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification: :attr:`valid` and the JSON object (:meth:`to_json`)."""

    valid: bool
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The result object (``valid``, ``reason``, ``message``, ``at``, …) — a copy."""
        return copy.deepcopy(self.data)


class InputFileError(ValidationError):
    """An input file does not hold what its option needs (a CRL given as ``--anchor``…).

    :ivar option: the option (``--anchor``, ``CERT``…).
    :ivar path: the file.
    :ivar reason: the parser's reason (``malformed-certificate``…).
    """

    def __init__(self, option: str, path: str, cause: ValidationError, hint: str = "") -> None:
        self.option = option
        self.path = path
        text = f"{option} {display_path(path)}: {cause}"
        super().__init__(text + (f" ({hint})" if hint else ""), reason=cause.reason)


# --------------------------------------------------------------------------- loading
def _kind_of(data: bytes) -> str:
    """What ``data`` holds instead, for an error message: ``"it holds a CRL"``…"""
    from jukicard.pki.certs import load_certificates, load_crls

    for loader, kind in ((load_crls, "a CRL"), (load_certificates, "a certificate")):
        try:
            if loader(data):
                return f"it holds {kind}"
        except (ValidationError, ValueError):
            continue
    return ""


def _load_certificates(path: str, option: str) -> list[Any]:
    from jukicard.pki.certs import load_certificates

    data = read_input(path, option=option, what="certificate", limit=MAX_CERTIFICATE)
    try:
        return load_certificates(data)
    except ValidationError as exc:
        raise InputFileError(option, path, exc, _kind_of(data)) from exc


def _add_crl_file(revocation: Any, path: str) -> None:
    data = read_input(path, option="--crl", what="CRL", limit=MAX_CRL)
    try:
        revocation.add(data)
    except ValidationError as exc:
        raise InputFileError("--crl", path, exc, _kind_of(data)) from exc


@dataclass(frozen=True)
class ValidationSetup:
    """What :func:`build_validation` produced: the validator, the time, the JPKI usage and
    the problems met while fetching CRLs by URL."""

    validator: Any
    at: _dt.datetime
    usage: str | None
    crl_problems: tuple[str, ...]


def build_validation(options: VerifyOptions, *, extra_intermediates: Sequence[Any] = (),
                     default_usage: str | None = None) -> ValidationSetup:
    """Build a :class:`~jukicard.pki.validate.Validator` from ``options``.

    CRL URLs are fetched now: a failure is recorded in ``crl_problems`` and leaves the status
    undetermined, which is never valid under a CRL-required policy.

    :param extra_intermediates: more intermediates (e.g. the certificates inside a CMS).
    :param default_usage: JPKI certificate kind required under the profile when
        ``options.usage`` is not set (a CMS document signature: ``"sign"``).
    :raises UsageError: an unreadable or oversized file, no trust anchor.
    :raises InputFileError: an anchor, intermediate or CRL file does not parse.
    """
    from jukicard.pki.policy import RevocationRule, ValidationPolicy
    from jukicard.pki.revocation import CrlRevocationSource
    from jukicard.pki.validate import Validator

    at = options.validation_time()
    anchors = [c for p in options.anchors for c in _load_certificates(p, "--anchor")]
    if not anchors:
        raise UsageError("no trust anchor given (--anchor FILE)")
    intermediates = list(extra_intermediates)
    for path in options.intermediates:
        intermediates.extend(_load_certificates(path, "--intermediate"))

    usage = options.usage or (default_usage if options.jpki else None)
    overrides: dict[str, Any] = {
        "revocation": (RevocationRule.NONE if options.no_revocation
                       else RevocationRule.CRL_REQUIRED),
        "initial_explicit_policy": options.explicit_policy,
        "initial_policy_mapping_inhibit": options.inhibit_mapping,
        "initial_any_policy_inhibit": options.inhibit_any_policy,
    }
    if usage is not None:
        overrides["jpki_usage"] = usage
    if options.policies:
        overrides["user_initial_policy_set"] = frozenset(options.policies)
    if options.min_rsa_bits is not None:
        overrides["min_rsa_key_size"] = options.min_rsa_bits
    policy = (ValidationPolicy.jpki(anchors, **overrides) if options.jpki
              else ValidationPolicy.permissive(anchors, **overrides))

    problems: list[str] = []
    revocation = None
    if not options.no_revocation:
        fetcher = None
        if options.fetch_crls or any("://" in loc for loc in options.crls):
            from jukicard.pki.fetch import HttpCrlFetcher

            fetcher = HttpCrlFetcher(options.crl_cache)
        # with fetch_crls the source itself fetches each certificate's URL distribution
        # points when no CRL at hand covers it
        revocation = CrlRevocationSource(fetcher=fetcher if options.fetch_crls else None)
        for location in options.crls:
            if "://" in location and fetcher is not None:
                try:
                    revocation.add(fetcher.fetch(location))
                except ValidationError as exc:
                    problems.append(f"{location}: {exc}")
                    log.warning("CRL %s unusable: %s", location, exc)
            else:
                _add_crl_file(revocation, location)
    elif options.crls:
        log.info("--no-revocation: ignoring %d --crl option(s)", len(options.crls))
    return ValidationSetup(Validator(policy, intermediates=intermediates,
                                     revocation=revocation), at, usage, tuple(problems))


# --------------------------------------------------------------------------- results
def _subject_text(cert: Any, leaf: bool) -> str:
    import warnings

    from jukicard.pki.jpki import certificate_kind
    from jukicard.pki.names import format_name

    # NOTE: a JPKI sign certificate's subject names the holder's municipality: not printed
    if leaf and not cert.is_ca:
        try:
            if certificate_kind(cert) == "sign":
                return str(cert.describe())
        except Exception:  # noqa: BLE001 - a subject we cannot classify is printed as is
            pass
    try:
        with warnings.catch_warnings():  # e.g. PKITS negative serials: only the name is used
            warnings.simplefilter("ignore")
            return str(cert.to_cryptography().subject.rfc4514_string())
    except Exception:  # noqa: BLE001 - cryptography refuses some odd names: print ours
        return str(format_name(cert.subject))


def _serial_text(serial: int) -> str:
    return format(serial, "x") if serial >= 0 else "-" + format(-serial, "x")


def result_to_json(result: Any, *, extra_problems: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON object of a :class:`~jukicard.pki.result.ValidationResult`."""
    path = list(result.path)
    revocation = []
    for r in result.revocation:
        st = r.status
        revocation.append({
            "position": r.position,
            "serial": _serial_text(r.serial),
            "state": None if st is None else st.state.value,
            "revocation_reason": None if st is None else st.revocation_reason,
            "revoked_at": None if st is None else iso_time(st.revoked_at),
            "source": None if st is None else st.source,
            "problem": None if st is None else st.problem,
        })
    out: dict[str, Any] = {
        "valid": bool(result.valid),
        "reason": str(result.reason),
        "message": result.message,
        "at": iso_time(result.at),
        "path": [_subject_text(c, i == len(path) - 1) for i, c in enumerate(path)],
        "path_sha256": [c.fingerprint for c in path],
        "revocation": revocation,
        "policies": sorted(result.policies),
    }
    if extra_problems:
        out["problems"] = list(extra_problems)
    return out


def _problem_text(problem: Any) -> str:
    code, text = str(getattr(problem, "code", "")), str(problem)
    return text if text.startswith(code) else f"{code}: {text}"


def apply_usage(result: Any, usage: str | None) -> Any:
    """With a JPKI ``usage``, turn a valid result into ``jpki-profile-violation`` when the
    leaf is of the other kind (a sign certificate used for auth, or the reverse)."""
    if usage is None or not result.valid:
        return result
    from jukicard.pki.jpki import check_profile
    from jukicard.pki.result import Reason

    problems = [p for p in check_profile(list(result.path), result.at, expected_usage=usage)
                if getattr(p, "code", "") == "wrong-usage"]
    if not problems:
        return result
    return dataclasses.replace(result, valid=False, reason=Reason.JPKI_PROFILE,
                               message="; ".join(_problem_text(p) for p in problems))


def _failure(exc: ValidationError, at: _dt.datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"valid": False, "reason": str(exc.reason), "message": str(exc),
                           "at": iso_time(at), "path": [], "revocation": []}
    if isinstance(exc, InputFileError):
        out["input"] = {"option": exc.option, "file": exc.path}
    return out


# --------------------------------------------------------------------------- certificates
def verify_certificate(cert_path: str, options: VerifyOptions) -> VerifyReport:
    """Validate the certificate in ``cert_path`` (``cert verify``).

    :raises UsageError: an unreadable or oversized file, no anchor.
    """
    from jukicard.pki.certs import Certificate

    data = read_input(cert_path, option="CERT", what="certificate", limit=MAX_CERTIFICATE)
    at = options.validation_time()
    options = dataclasses.replace(options, at=at)  # one "now" for the whole run
    try:
        setup = build_validation(options)
        try:
            cert = Certificate.parse(data)
        except ValidationError as exc:
            raise InputFileError("CERT", cert_path, exc, _kind_of(data)) from exc
    except ValidationError as exc:  # an input file that does not parse: malformed-*
        return VerifyReport(False, _failure(exc, at))
    result = apply_usage(setup.validator.validate(cert, setup.at), setup.usage)
    return VerifyReport(bool(result.valid),
                        result_to_json(result, extra_problems=setup.crl_problems))


# --------------------------------------------------------------------------- signatures
def decode_signature(blob: bytes, size: int) -> tuple[bytes, str]:
    """The raw signature in what ``jukicard sign`` wrote, and its encoding.

    :param blob: the signature file: raw bytes (``sign -o``), base64 text (``sign``'s
        default output) or ``sign --json``'s object.
    :param size: the signer key's modulus size in bytes (a raw signature has this length).
    :returns: ``(signature, "raw" | "base64" | "json")``; bytes that are none of the text
        forms come back as they are (``"raw"``).
    """
    if len(blob) == size:
        return blob, "raw"
    text = blob.strip()
    if text.startswith(b"{"):
        try:
            obj = json.loads(text.decode("utf-8"))
            value = obj["signature"] if isinstance(obj, dict) else None
            if isinstance(value, str):
                return base64.b64decode(value, validate=True), "json"
        except (ValueError, KeyError, binascii.Error):
            pass
    try:
        decoded = base64.b64decode(b"".join(text.split()), validate=True)
    except (ValueError, binascii.Error):
        return blob, "raw"
    return (decoded, "base64") if decoded and len(decoded) == size else (blob, "raw")


def _min_key_bits(options: VerifyOptions) -> int | None:
    if options.min_rsa_bits is not None:
        return options.min_rsa_bits
    return 2048 if options.jpki else None


def _raw_signature(data_path: str, blob: bytes, cert_bytes: bytes | None,
                   sig: SignatureOptions, options: VerifyOptions) -> tuple[dict[str, Any], Any]:
    """Verify a PKCS#1 v1.5 signature; returns (JSON ``signature`` object, signer cert)."""
    from jukicard.pki.signatures import (
        SignatureInvalidError,
        load_certificate,
        parse_digest_info,
        recover_digest_info,
        rsa_public_key,
        verify_pkcs1v15,
    )

    if cert_bytes is None:
        raise UsageError("a raw signature needs the signer certificate (--cert)")
    try:
        cert = load_certificate(cert_bytes)
    except ValidationError as exc:
        raise InputFileError("--cert", sig.certificate or "", exc, _kind_of(cert_bytes)) from exc
    size = (rsa_public_key(certificate=cert, check_key_usage=False).key_size + 7) // 8
    signature, encoding = decode_signature(blob, size)
    common: dict[str, Any] = {"certificate": cert, "min_key_size": _min_key_bits(options),
                              "allow_sha1": sig.allow_sha1}
    if sig.mode == "raw":
        block = read_input(data_path, option="FILE", what="signed block", limit=MAX_BLOCK)
        vs = verify_pkcs1v15(signature, raw=block, **common)
        mode = "raw"
    else:
        hash_name, _ = parse_digest_info(recover_digest_info(
            signature, certificate=cert, min_key_size=_min_key_bits(options)))
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


def _cms_signature(data_path: str, blob: bytes, cert_bytes: bytes | None,
                   sig: SignatureOptions, options: VerifyOptions
                   ) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """Verify every SignerInfo of a CMS; returns (JSON object, signer certs, CMS certs)."""
    from jukicard.pki.certs import Certificate
    from jukicard.pki.cms import SignedData
    from jukicard.pki.signatures import SignatureInvalidError

    if sig.mode != "message":
        raise UsageError("--digest/--raw apply to raw signatures, not to CMS")
    signed = SignedData.parse(blob)
    content = read_input(data_path, option="FILE", what="CMS content", limit=MAX_CMS_CONTENT)
    kwargs: dict[str, Any] = {
        "extra_certificates": [cert_bytes] if cert_bytes is not None else [],
        "min_key_size": _min_key_bits(options), "allow_sha1": sig.allow_sha1}
    if signed.detached:
        res = signed.verify(detached_content=content, **kwargs)
    else:
        if not hmac.compare_digest(signed.content or b"", content):
            raise SignatureInvalidError("FILE differs from the content in the CMS")
        res = signed.verify(**kwargs)
    signers: list[Any] = []
    for s in res.signers:  # every SignerInfo's certificate is validated, not only the first
        if s.certificate not in signers:
            signers.append(s.certificate)
    obj = {
        "valid": True, "format": "cms", "detached": signed.detached,
        "content_type": res.content_type,
        "signers": [{"hash": s.digest_algorithm, "key_size": s.key_size,
                     "signed_attributes": s.signed_attributes,
                     "signing_time": iso_time(s.signing_time), "weak_hash": s.weak_hash,
                     "certificate_sha256": Certificate.from_cryptography(
                         s.certificate).fingerprint}
                    for s in res.signers],
    }
    return obj, signers, list(res.certificates)


def verify_signature(data_path: str, sig_path: str, signature: SignatureOptions,
                     options: VerifyOptions) -> VerifyReport:
    """Verify a raw card signature or a CMS SignedData over ``data_path``, and with
    ``options.anchors`` the signer certificate path(s) (``signature verify``).

    :raises UsageError: unreadable or oversized inputs, ``--digest``/``--raw`` with a CMS, a
        raw signature without ``--cert``.
    """
    from jukicard.pki.certs import Certificate
    from jukicard.pki.cms import looks_like_cms

    blob = read_input(sig_path, option="SIG", what="signature", limit=MAX_SIGNATURE)
    cert_bytes = (read_input(signature.certificate, option="--cert", what="certificate",
                             limit=MAX_CERTIFICATE)
                  if signature.certificate is not None else None)
    at = options.validation_time()
    options = dataclasses.replace(options, at=at)  # one "now" for the whole run
    out: dict[str, Any] = {"valid": False, "reason": None, "message": "",
                           "at": iso_time(at), "signature": None, "certificate": None}
    cms_certs: list[Any] = []
    is_cms = looks_like_cms(blob)
    try:
        if is_cms:
            out["signature"], signers, cms_certs = _cms_signature(
                data_path, blob, cert_bytes, signature, options)
        else:
            out["signature"], signer = _raw_signature(data_path, blob, cert_bytes, signature,
                                                      options)
            signers = [signer]
    except ValidationError as exc:
        out.update(_failure(exc, at), signature={"valid": False, "reason": str(exc.reason)},
                   certificate=None)
        for key in ("path", "revocation"):
            out.pop(key)
        return VerifyReport(False, out)

    if not options.anchors:
        out.update(valid=True, reason="ok", message="signature valid (certificate not "
                   "validated: no --anchor)")
        return VerifyReport(True, out)
    try:
        # a CMS document signature must come from a JPKI sign certificate (署名用): under
        # the JPKI profile an auth certificate (利用者証明用) is refused unless usage says so
        setup = build_validation(options, extra_intermediates=[
            Certificate.from_cryptography(c) for c in cms_certs],
            default_usage="sign" if is_cms else None)
        targets = [Certificate.from_cryptography(c) for c in signers]
    except ValidationError as exc:
        out.update(reason=str(exc.reason), message=str(exc))
        return VerifyReport(False, out)
    results = [apply_usage(r, setup.usage)
               for r in setup.validator.validate_many(targets, setup.at)]
    failed = next((r for r in results if not r.valid), None)
    shown = failed if failed is not None else results[0]
    out["certificate"] = result_to_json(shown, extra_problems=setup.crl_problems)
    if len(results) > 1:
        out["certificates"] = [result_to_json(r, extra_problems=setup.crl_problems)
                               for r in results]
    out.update(valid=failed is None, reason=str(shown.reason),
               message="signature and certificate path valid" if failed is None
               else f"signature valid, certificate path invalid: {shown.message}")
    return VerifyReport(failed is None, out)
