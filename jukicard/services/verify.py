"""Certificate verification as a use case (``cert verify``), and what signature
verification (:mod:`jukicard.services.signatures`, ``signature verify``) shares with it.

The CLI, a console and the bulk verifier share these functions; none of them needs click.
The options are a frozen :class:`VerifyOptions` (the validation policy is built from it:
trust anchors, intermediates, CRLs from files, URLs or the certificates' own distribution
points, the validation time, RFC 5280 policy inputs, the preset), and each use case
returns a :class:`VerifyReport`: ``valid`` plus the JSON object the CLI prints::

    options = VerifyOptions(preset="jpki", crls=("sign.crl",))   # the bundled J-LIS roots
    report = verify_certificate("leaf.cer", options)
    report.valid, report.to_json()["reason"]

Two presets: ``rfc5280`` (the default: generic RFC 5280 path validation up to the
``anchors`` given) and ``jpki`` (production JPKI: RSA ≥ 2048, SHA-256+, the JPKI profile,
the J-LIS roots bundled in :mod:`jukicard.pki.anchors` unless ``anchors`` are given, and
then only production anchors unless ``allow_test_anchors``: see
:meth:`~jukicard.pki.policy.ValidationPolicy.jpki`).

An input that does not parse is a failed validation (``valid`` false, reason
``malformed-…``), named by its option and file; a missing or oversized file is a
:class:`~jukicard.errors.UsageError`.  Input sizes are capped (:mod:`.inputs`).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jukicard.errors import UsageError, ValidationError
from jukicard.services.inputs import (
    MAX_CERTIFICATE,
    MAX_CRL,
    InputError,
    display_path,
    read_input,
)
from jukicard.services.trust import check_trust_options, trust_anchors, trust_json

__all__ = [
    "VerifyOptions",
    "VerifyReport",
    "InputFileError",
    "input_problem",
    "option_input_error",
    "ValidationSetup",
    "parse_at",
    "iso_time",
    "check_policy_oid",
    "build_validation",
    "result_to_json",
    "apply_usage",
    "failure_json",
    "kind_of",
    "verify_certificate",
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
    :ivar jpki_profile: the same as ``preset="jpki"`` (kept as a synonym).
    :ivar usage: require a JPKI ``"sign"`` or ``"auth"`` certificate (implies the jpki
        preset).
    :ivar min_rsa_bits: smallest RSA key in the path (default 2048 with the jpki preset,
        else 1024).
    :ivar preset: ``"rfc5280"`` (generic RFC 5280 validation up to ``anchors``) or
        ``"jpki"`` (the production JPKI policy; without ``anchors``, the bundled J-LIS
        roots); ``None`` = ``rfc5280`` unless ``jpki_profile`` or ``usage`` select jpki.
    :ivar allow_test_anchors: with the jpki preset, accept ``anchors`` that are not
        production J-LIS anchors (a test PKI, the emulator's CA).
    :ivar production_anchors: with the jpki preset, SHA-256 fingerprints of ``anchors`` to
        accept as production (a J-LIS generation newer than this release).
    :ivar lenient: skip the RFC 5280 §4/§5 profile checks (``Conformance.LENIENT``).
    :ivar max_chain_depth: most CA certificates between anchor and target (default 8).
    :raises UsageError: a malformed policy OID, an unknown usage or preset, a negative key
        size or depth, a naive ``at``, one path (a ``str``) where a sequence of paths belongs,
        ``rfc5280`` with ``jpki_profile`` or ``usage``, ``allow_test_anchors`` or
        ``production_anchors`` without the jpki preset and ``anchors``, a malformed
        fingerprint.
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
    preset: str | None = None
    allow_test_anchors: bool = False
    production_anchors: tuple[str, ...] = ()
    lenient: bool = False
    max_chain_depth: int | None = None

    def __post_init__(self) -> None:
        for name in ("anchors", "intermediates", "crls", "policies", "production_anchors"):
            value = getattr(self, name)
            if isinstance(value, str | bytes | os.PathLike):
                # tuple("x.cer") would be ('x', '.', 'c', ...): say what is wrong instead
                raise UsageError(f"VerifyOptions.{name} takes a sequence (a tuple or list), "
                                 f"not one {type(value).__name__}: write ({value!r},)")
            object.__setattr__(self, name, tuple(value))
        for oid in self.policies:
            check_policy_oid(oid)
        if self.usage not in _USAGES:
            raise UsageError("--usage must be 'sign' or 'auth'")
        for name, bound in (("min_rsa_bits", self.min_rsa_bits),
                            ("max_chain_depth", self.max_chain_depth)):
            if bound is not None and bound < 0:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 0")
        if self.at is not None and self.at.tzinfo is None:
            raise UsageError("the validation time must carry a time zone")
        object.__setattr__(self, "production_anchors", check_trust_options(self))

    @property
    def jpki(self) -> bool:
        """True when the jpki preset applies (``preset="jpki"``, ``jpki_profile`` or a
        ``usage``)."""
        return self.preset == "jpki" or self.jpki_profile or self.usage is not None

    @property
    def validates_path(self) -> bool:
        """True when a certificate path is validated: with ``anchors``, or under the jpki
        preset (the bundled J-LIS roots)."""
        return bool(self.anchors) or self.jpki

    def validation_time(self) -> _dt.datetime:
        """:attr:`at`, or now (UTC, whole seconds)."""
        return self.at if self.at is not None else parse_at(None)

    def path_options(self) -> tuple[str, ...]:
        """The options given (by their CLI names) that only matter when a certificate path
        is validated (:attr:`validates_path`: ``--preset rfc5280``, ``--crl``…)."""
        given = (("--preset", self.preset is not None),
                 ("--intermediate", self.intermediates), ("--crl", self.crls),
                 ("--crl-cache", self.crl_cache is not None), ("--fetch-crls", self.fetch_crls),
                 ("--no-revocation", self.no_revocation), ("--policy", self.policies),
                 ("--explicit-policy", self.explicit_policy),
                 ("--inhibit-mapping", self.inhibit_mapping),
                 ("--inhibit-any-policy", self.inhibit_any_policy),
                 ("--jpki-profile", self.jpki_profile), ("--usage", self.usage is not None))
        return tuple(name for name, value in given if value)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification: :attr:`valid` and the JSON object (:meth:`to_json`)."""

    valid: bool
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The result object (``valid``, ``reason``, ``message``, ``at``, …) — a copy."""
        return copy.deepcopy(self.data)


_PROBLEMS = {
    "malformed-certificate": "is not a readable certificate (DER or PEM)",
    "malformed-crl": "is not a readable CRL (DER or PEM)",
    "malformed-pem": "has broken PEM armour",
}


def input_problem(cause: ValidationError, what: str) -> str:
    """What is wrong with an input file, in words (no parser internals): ``"is not a
    readable certificate (DER or PEM)"``."""
    return _PROBLEMS.get(str(cause.reason), f"is not a usable {what}")


class InputFileError(ValidationError):
    """The thing being verified (``CERT``, …) does not hold what it should: a failed
    verification (exit 5), not an operator's mistake with an option (that is an
    :class:`~jukicard.services.inputs.InputError`, exit 2).

    :ivar option: the argument (``CERT``…).
    :ivar path: the file.
    :ivar reason: the parser's reason (``malformed-certificate``…).
    """

    def __init__(self, option: str, path: str, cause: ValidationError, hint: str = "",
                 what: str = "certificate") -> None:
        self.option = option
        self.path = path
        text = f"{option} {display_path(path)} {input_problem(cause, what)}"
        super().__init__(text + (f" ({hint})" if hint else ""), reason=cause.reason)


def option_input_error(option: str, path: str, cause: ValidationError, data: bytes,
                       what: str) -> InputError:
    """A usage error (exit 2) for an option's file that does not hold what the option needs
    (a CRL given as ``--anchor``), naming the option, the file and what it holds."""
    hint = kind_of(data)
    return InputError(f"{option} {display_path(path)} {input_problem(cause, what)}"
                      + (f" ({hint})" if hint else ""), option=option, path=path)


# --------------------------------------------------------------------------- loading
def kind_of(data: bytes) -> str:
    """What ``data`` holds instead of what its option needs, for an error message:
    ``"it holds a CRL"``, ``"it holds a certificate"`` or ``""``."""
    from jukicard.pki.certs import load_certificates, load_crls

    for loader, kind in ((load_crls, "a CRL"), (load_certificates, "a certificate")):
        try:
            if loader(data):
                return f"it holds {kind}"
        except (ValidationError, ValueError):
            continue
    return ""


def _load_certificates(path: str, option: str) -> list[Any]:
    """The certificates of an option's file (``--anchor``…).

    :raises InputError: unreadable, too large, not certificates, or none in it.
    """
    from jukicard.pki.certs import load_certificates

    data = read_input(path, option=option, what="certificate", limit=MAX_CERTIFICATE)
    try:
        certs = load_certificates(data)
    except ValidationError as exc:
        raise option_input_error(option, path, exc, data, "certificate") from exc
    if not certs:
        raise InputError(f"{option} {display_path(path)} holds no certificate (a PEM file "
                         "with no CERTIFICATE block)", option=option, path=path)
    return certs


def _add_crl_file(revocation: Any, path: str) -> None:
    """Add the CRLs of a ``--crl`` file.

    :raises InputError: unreadable, too large, not CRLs, or none in it.
    """
    from jukicard.pki.crl import load_crls

    data = read_input(path, option="--crl", what="CRL", limit=MAX_CRL)
    try:
        crls = load_crls(data)
        for crl in crls:  # an operator's file: its uncommon entries are decoded now (capped)
            crl.check_entries()
    except ValidationError as exc:
        raise option_input_error("--crl", path, exc, data, "CRL") from exc
    if not crls:
        raise InputError(f"--crl {display_path(path)} holds no CRL (a PEM file with no "
                         "X509 CRL block)", option="--crl", path=path)
    for crl in crls:
        revocation.add(crl)


def _check_crl_url(location: str) -> None:
    """A ``--crl`` URL must be http(s) with a host (else the operator mistyped it).

    :raises InputError: another scheme, no host, a URL that does not parse.
    """
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(location)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"--crl {display_path(location)}: only http and https CRL URLs are "
                         "fetched (give a local CRL file by its path)", option="--crl",
                         path=location)
    if not host:
        raise InputError(f"--crl {display_path(location)}: the URL has no host",
                         option="--crl", path=location)


class _RecordingFetcher:
    """A CRL fetcher that remembers every failure (URL and why), so the result lists the
    problem with each URL instead of only "no CRL found"."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.problems: list[str] = []

    def fetch(self, url: str) -> bytes:
        try:
            data: bytes = self.inner.fetch(url)
        except ValidationError as exc:
            self.problems.append(f"{url}: {_fetch_problem(exc)}")
            log.info("CRL %s unusable: %s", url, exc)
            raise
        return data


_PY_NAME = re.compile(r" \([A-Z][A-Za-z]*\)$")


def _fetch_problem(exc: ValidationError) -> str:
    """Why a CRL download failed, in words: the system's reason ("Connection refused")
    rather than a Python exception name."""
    cause = exc.__cause__
    reason = getattr(cause, "reason", cause)
    if isinstance(reason, TimeoutError) or isinstance(cause, TimeoutError):
        return "CRL download timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return f"CRL download failed: {reason.strerror}"
    return _PY_NAME.sub("", str(exc))


def _crl_fetcher(cache: str | None) -> _RecordingFetcher:
    """The HTTP CRL fetcher, its failures recorded.

    :raises InputError: ``--crl-cache`` cannot be used as a cache directory.
    """
    from jukicard.pki.fetch import HttpCrlFetcher

    try:
        return _RecordingFetcher(HttpCrlFetcher(cache))
    except UsageError as exc:
        raise InputError(f"--crl-cache: {exc}", option="--crl-cache", path=cache) from exc


@dataclass(frozen=True)
class ValidationSetup:
    """What :func:`build_validation` produced: the validator, the time, the JPKI usage,
    the fetcher of CRLs by URL (``None`` without URLs) and the options it was built from."""

    validator: Any
    at: _dt.datetime
    usage: str | None
    fetcher: _RecordingFetcher | None = None
    options: VerifyOptions | None = None

    @property
    def crl_problems(self) -> tuple[str, ...]:
        """The problems met so far fetching CRLs by URL (``--crl URL`` while building, the
        certificates' distribution points with ``--fetch-crls`` while validating)."""
        return () if self.fetcher is None else tuple(self.fetcher.problems)

    def result_json(self, result: Any) -> dict[str, Any]:
        """:func:`result_to_json` of ``result`` with :attr:`crl_problems` and, with the
        options, what was trusted (:func:`~jukicard.services.trust.trust_json`)."""
        out = result_to_json(result, extra_problems=self.crl_problems)
        if self.options is not None:
            out.update(trust_json(self.options, result.path, self.validator.anchors))
        return out


def build_validation(options: VerifyOptions, *, extra_intermediates: Sequence[Any] = (),
                     default_usage: str | None = None) -> ValidationSetup:
    """Build a :class:`~jukicard.pki.validate.Validator` from ``options``.

    CRL URLs are fetched now: a failure is recorded in ``crl_problems`` and leaves the status
    undetermined, which is never valid under a CRL-required policy.

    :param extra_intermediates: more intermediates (e.g. the certificates inside a CMS).
    :param default_usage: JPKI certificate kind required under the profile when
        ``options.usage`` is not set (a CMS document signature: ``"sign"``).
    :raises InputError: (a :class:`UsageError`) an anchor, intermediate or CRL file that
        cannot be read, is too large or does not hold what its option needs; a ``--crl``
        URL that is not http(s); a ``--crl-cache`` that is not a directory; a test anchor
        under the jpki preset without ``allow_test_anchors``.
    :raises UsageError: no trust anchor.
    """
    from jukicard.pki.policy import Conformance, RevocationRule, ValidationPolicy
    from jukicard.pki.revocation import CrlRevocationSource
    from jukicard.pki.validate import Validator

    at = options.validation_time()
    anchors = trust_anchors(options, _load_certificates)
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
    if options.lenient:
        overrides["conformance"] = Conformance.LENIENT
    if options.max_chain_depth is not None:
        overrides["max_chain_depth"] = options.max_chain_depth
    if options.jpki:
        policy = ValidationPolicy.jpki(anchors, allow_test_anchors=options.allow_test_anchors,
                                       production_fingerprints=options.production_anchors,
                                       **overrides)
    else:
        policy = ValidationPolicy.permissive(anchors, **overrides)

    revocation = None
    fetcher = None
    if not options.no_revocation:
        urls = [loc for loc in options.crls if "://" in loc]
        for url in urls:
            _check_crl_url(url)
        if options.fetch_crls or urls:
            fetcher = _crl_fetcher(options.crl_cache)
        # with fetch_crls the source itself fetches each certificate's URL distribution
        # points when no CRL at hand covers it (failures are recorded by the fetcher)
        revocation = CrlRevocationSource(fetcher=fetcher if options.fetch_crls else None)
        for location in options.crls:
            if location in urls and fetcher is not None:
                try:
                    revocation.add(fetcher.fetch(location))
                except ValidationError:
                    pass  # recorded: the status stays undetermined, never valid
            else:
                _add_crl_file(revocation, location)
    elif options.crls:
        log.info("--no-revocation: ignoring %d --crl option(s)", len(options.crls))
    return ValidationSetup(Validator(policy, intermediates=intermediates,
                                     revocation=revocation), at, usage, fetcher, options)


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
        if not out["valid"]:
            out["message"] = f"{out['message']} (CRL URL problems: {'; '.join(extra_problems)})"
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


def failure_json(exc: ValidationError, at: _dt.datetime) -> dict[str, Any]:
    """The result object of a verification that failed on an input (``malformed-…``)."""
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
            raise InputFileError("CERT", cert_path, exc, kind_of(data)) from exc
    except ValidationError as exc:  # an input file that does not parse: malformed-*
        return VerifyReport(False, failure_json(exc, at))
    result = apply_usage(setup.validator.validate(cert, setup.at), setup.usage)
    return VerifyReport(bool(result.valid), setup.result_json(result))
