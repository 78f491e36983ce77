"""``jukicard cert …``: certificate path validation from the command line.

``jukicard cert verify CERT --anchor FILE… [--intermediate FILE]… [--crl FILE|URL]…
[--no-revocation] [--at ISO8601] [--policy OID]… [--explicit-policy] [--inhibit-mapping]
[--inhibit-any-policy] [--jpki-profile] [--usage sign|auth] [--min-rsa-bits N]
[--crl-cache DIR] [--fetch-crls] [--json]``

Exit status: 0 only when the path is valid; 5 when it is not (the ValidationError class of
exit codes); 2 for usage errors (missing file, bad ``--at``...).  The result (reason,
message, path, revocation, the validation time used) goes to stdout, as text or as JSON::

    {"valid": false, "reason": "revoked", "message": "...", "at": "...Z",
     "path": ["C=JP, O=JPKI, ...", ...], "revocation": [{...}]}

Without ``--jpki-profile`` the validation is generic RFC 5280 (every algorithm we can
verify, RSA ≥ 1024: what conformance suites such as NIST PKITS need); with it, the JPKI
policy applies (RSA ≥ 2048, SHA-256+, the JPKI profile of :mod:`jukicard.pki.jpki`).

Other modules add subcommands to the ``cert`` group (e.g. ``cert export``, which reads a
card) without editing this file, either by finding the group in the top-level subparsers
(``subparsers.choices["cert"]``; this module finds an existing group the same way, so the
registration order does not matter), or through the hook: :func:`register` imports each
module of :data:`CERT_EXTENSION_MODULES` that exists and calls its
``register_cert(cert_subparsers)``.  :data:`cert_subparsers` holds the group after
``register`` ran.

This module also holds the validation options and helpers shared with
``jukicard signature verify`` (:func:`add_validation_arguments`, :func:`build_validator`,
:func:`result_to_json`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import logging
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jukicard.errors import UsageError, ValidationError

log = logging.getLogger(__name__)

__all__ = [
    "CERT_EXTENSION_MODULES",
    "cert_subparsers",
    "register",
    "add_validation_arguments",
    "build_validator",
    "parse_at",
    "read_file",
    "result_to_json",
    "print_result",
    "cmd_verify",
]

#: Optional modules that add subcommands to the ``cert`` group via ``register_cert(sub)``.
CERT_EXTENSION_MODULES: tuple[str, ...] = ("jukicard.cli.cert_export", "jukicard.cli.cert_card")

#: The ``cert`` group's subparsers action, set by :func:`register`.
cert_subparsers: Any = None

EXIT_INVALID = 5


# --------------------------------------------------------------------------- registration
def register(subparsers: Any) -> None:
    """Add the ``cert`` group (and ``cert verify``) to the top-level subparsers."""
    global cert_subparsers
    sub = _find_or_add_group(subparsers, "cert",
                             "certificates: validate a path (verify), export from a card")
    cert_subparsers = sub

    verify = sub.add_parser(
        "verify",
        help="validate a certificate path (RFC 5280 + CRLs, optional JPKI profile)",
        description="Validate CERT up to one of the --anchor certificates. Exit 0 only "
        "when the path is valid, 5 when it is not, 2 on usage errors.")
    verify.add_argument("cert", metavar="CERT", help="certificate to validate (DER or PEM)")
    add_validation_arguments(verify, anchors_required=True)
    verify.set_defaults(func=cmd_verify)

    for name in CERT_EXTENSION_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register_cert(sub)


def _find_or_add_group(subparsers: Any, name: str, help_text: str) -> Any:
    """The subparsers action of group ``name``, created if missing (any module order)."""
    parser = subparsers.choices.get(name)
    if parser is None:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
    for action in parser._actions:  # argparse keeps the subcommand action here
        if isinstance(action, argparse._SubParsersAction):
            return action
    group = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
    group.required = True
    return group


def add_validation_arguments(parser: argparse.ArgumentParser, *,
                             anchors_required: bool) -> None:
    """Add the path-validation options shared by ``cert verify`` and ``signature verify``."""
    g = parser.add_argument_group("path validation")
    g.add_argument("--anchor", action="append", default=[], metavar="FILE",
                   required=anchors_required,
                   help="trust anchor certificate(s), DER or PEM (repeatable; a PEM file "
                   "may hold several)")
    g.add_argument("--intermediate", action="append", default=[], metavar="FILE",
                   help="intermediate CA certificate(s), DER or PEM (repeatable)")
    g.add_argument("--crl", action="append", default=[], metavar="FILE|URL",
                   help="CRL file (DER or PEM) or http(s) URL (repeatable)")
    g.add_argument("--crl-cache", metavar="DIR",
                   help="cache directory for CRLs fetched by URL (default: no cache)")
    g.add_argument("--fetch-crls", action="store_true",
                   help="also fetch CRLs from the http(s) distribution points named in the "
                   "certificates (off by default: a counter terminal may have no network; "
                   "JPKI distribution points are directory names, give those with --crl)")
    g.add_argument("--no-revocation", action="store_true",
                   help="do not check revocation (default: a usable CRL is required)")
    g.add_argument("--at", metavar="ISO8601",
                   help="validation time, e.g. 2026-06-01T00:00:00Z (default: now, UTC; "
                   "a time without zone is UTC)")
    g.add_argument("--policy", action="append", default=[], metavar="OID",
                   help="acceptable certificate policy (user-initial-policy-set; "
                   "repeatable; default anyPolicy)")
    g.add_argument("--explicit-policy", action="store_true",
                   help="initial-explicit-policy: require a valid policy")
    g.add_argument("--inhibit-mapping", action="store_true",
                   help="initial-policy-mapping-inhibit")
    g.add_argument("--inhibit-any-policy", action="store_true",
                   help="initial-any-policy-inhibit")
    g.add_argument("--jpki-profile", action="store_true",
                   help="JPKI policy: RSA >= 2048, SHA-256+, JPKI certificate profile")
    g.add_argument("--usage", choices=["sign", "auth"],
                   help="require a JPKI sign (署名用) or auth (利用者証明用) certificate "
                   "(implies --jpki-profile)")
    g.add_argument("--min-rsa-bits", type=int, metavar="N",
                   help="smallest RSA key accepted in the path (default 2048 with "
                   "--jpki-profile, else 1024)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


# --------------------------------------------------------------------------- helpers
def read_file(path: str, what: str) -> bytes:
    """Read a whole file.

    :raises UsageError: it cannot be read.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path!r}: {exc.strerror or exc}") from exc


def parse_at(value: str | None) -> _dt.datetime:
    """Parse ``--at`` (ISO 8601; ``Z`` allowed; naive = UTC); ``None`` = now (UTC).

    :raises UsageError: not an ISO 8601 date/time.
    """
    if value is None:
        return _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    text = value.strip()
    try:
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        t = _dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"--at {value!r} is not an ISO 8601 time "
                         "(e.g. 2026-06-01T00:00:00Z)") from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.astimezone(_dt.UTC)


def iso_time(t: _dt.datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class ValidationSetup:
    """What :func:`build_validator` produced."""

    validator: Any
    at: _dt.datetime
    usage: str | None
    crl_problems: list[str]


def build_validator(args: argparse.Namespace, *, extra_intermediates: Sequence[Any] = (),
                    default_usage: str | None = None) -> ValidationSetup:
    """Build a :class:`jukicard.pki.validate.Validator` from the shared options.

    CRL URLs are fetched now (a failure is reported and leaves the status undetermined,
    which is never valid under a CRL-required policy).

    :param default_usage: JPKI certificate kind required under ``--jpki-profile`` when
        ``--usage`` is not given (``signature verify`` of a CMS: ``"sign"``).

    :raises UsageError: unreadable files, bad ``--at``, no anchor.
    :raises ValidationError: an anchor/intermediate/CRL file does not parse.
    """
    from jukicard.pki.certs import load_certificates
    from jukicard.pki.policy import RevocationRule, ValidationPolicy
    from jukicard.pki.revocation import CrlRevocationSource
    from jukicard.pki.validate import Validator

    at = parse_at(args.at)
    anchors = []
    for path in args.anchor:
        anchors.extend(load_certificates(read_file(path, "anchor")))
    if not anchors:
        raise UsageError("no trust anchor given (--anchor FILE)")
    intermediates = list(extra_intermediates)
    for path in args.intermediate:
        intermediates.extend(load_certificates(read_file(path, "intermediate")))

    jpki = bool(args.jpki_profile or args.usage)
    usage = args.usage or (default_usage if jpki else None)
    overrides: dict[str, Any] = {
        "revocation": RevocationRule.NONE if args.no_revocation else RevocationRule.CRL_REQUIRED,
        "initial_explicit_policy": bool(args.explicit_policy),
        "initial_policy_mapping_inhibit": bool(args.inhibit_mapping),
        "initial_any_policy_inhibit": bool(args.inhibit_any_policy),
    }
    if usage is not None:
        overrides["jpki_usage"] = usage
    if args.policy:
        overrides["user_initial_policy_set"] = frozenset(args.policy)
    if args.min_rsa_bits is not None:
        if args.min_rsa_bits < 0:
            raise UsageError("--min-rsa-bits must be >= 0")
        overrides["min_rsa_key_size"] = args.min_rsa_bits
    policy = (ValidationPolicy.jpki(anchors, **overrides) if jpki
              else ValidationPolicy.permissive(anchors, **overrides))

    crl_problems: list[str] = []
    revocation = None
    if not args.no_revocation:
        fetcher = None
        if args.fetch_crls or any("://" in loc for loc in args.crl):
            from jukicard.pki.fetch import HttpCrlFetcher

            fetcher = HttpCrlFetcher(args.crl_cache)
        # with --fetch-crls the source itself fetches each certificate's URL distribution
        # points when no CRL at hand covers it
        revocation = CrlRevocationSource(fetcher=fetcher if args.fetch_crls else None)
        for loc in args.crl:
            if "://" in loc:
                assert fetcher is not None
                try:
                    revocation.add(fetcher.fetch(loc))
                except ValidationError as exc:
                    crl_problems.append(f"{loc}: {exc}")
                    log.warning("CRL %s unusable: %s", loc, exc)
            else:
                revocation.add(read_file(loc, "CRL"))
    elif args.crl:
        log.info("--no-revocation: ignoring %d --crl option(s)", len(args.crl))
    return ValidationSetup(Validator(policy, intermediates=intermediates,
                                     revocation=revocation),
                           at, usage, crl_problems)


def _subject_text(cert: Any, leaf: bool) -> str:
    from jukicard.pki.jpki import certificate_kind
    from jukicard.pki.names import format_name

    # NOTE: a JPKI sign certificate's subject names the holder's municipality: not printed
    if leaf and not cert.is_ca:
        try:
            if certificate_kind(cert) == "sign":
                return cert.describe()
        except Exception:  # noqa: BLE001 - a subject we cannot classify is printed as is
            pass
    try:
        with warnings.catch_warnings():  # e.g. PKITS negative serials: only the name is used
            warnings.simplefilter("ignore")
            return str(cert.to_cryptography().subject.rfc4514_string())
    except Exception:  # noqa: BLE001 - cryptography refuses some odd names: print ours
        return format_name(cert.subject)


def result_to_json(result: Any, *, extra_problems: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON object of a :class:`~jukicard.pki.result.ValidationResult`."""
    path = list(result.path)
    revocation = []
    for r in result.revocation:
        st = r.status
        revocation.append({
            "position": r.position,
            "serial": format(r.serial, "x") if r.serial >= 0 else "-" + format(-r.serial, "x"),
            "state": None if st is None else st.state.value,
            "revocation_reason": None if st is None else st.revocation_reason,
            "revoked_at": None if st is None else iso_time(st.revoked_at),
            "source": None if st is None else st.source,
            "problem": None if st is None else st.problem,
        })
    out: dict[str, Any] = {
        "valid": bool(result.valid),
        "reason": result.reason,
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


def apply_usage(result: Any, usage: str | None) -> Any:
    """With ``--usage``, turn a valid result into ``jpki-profile-violation`` when the leaf
    is of the other kind (sign certificate used for auth, or the reverse)."""
    if usage is None or not result.valid:
        return result
    import dataclasses

    from jukicard.pki.jpki import check_profile
    from jukicard.pki.result import Reason

    problems = [p for p in check_profile(list(result.path), result.at, expected_usage=usage)
                if getattr(p, "code", "") == "wrong-usage"]
    if not problems:
        return result
    return dataclasses.replace(result, valid=False, reason=Reason.JPKI_PROFILE,
                               message="; ".join(problems))


def print_result(obj: dict[str, Any], *, as_json: bool, file: Any = None) -> None:
    """Print a result object as JSON or as ``key: value`` text."""
    out = file or sys.stdout
    if as_json:
        json.dump(obj, out, ensure_ascii=False, indent=2, sort_keys=False)
        out.write("\n")
        return
    _print_text(obj, out, "")


def _print_text(obj: dict[str, Any], out: Any, indent: str) -> None:
    for key, value in obj.items():
        if key == "path_sha256":
            continue
        if key == "valid":
            out.write(f"{indent}valid: {'yes' if value else 'no'}\n")
        elif isinstance(value, dict):
            out.write(f"{indent}{key}:\n")
            _print_text(value, out, indent + "  ")
        elif isinstance(value, list):
            if not value:
                continue
            out.write(f"{indent}{key}:\n")
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    text = ", ".join(f"{k}={v}" for k, v in item.items() if v is not None)
                    out.write(f"{indent}  [{i}] {text}\n")
                else:
                    out.write(f"{indent}  [{i}] {item}\n")
        elif value is not None and value != "":
            out.write(f"{indent}{key}: {value}\n")


def _malformed_result(exc: ValidationError, at: _dt.datetime) -> dict[str, Any]:
    return {"valid": False, "reason": exc.reason, "message": str(exc), "at": iso_time(at),
            "path": [], "revocation": []}


# --------------------------------------------------------------------------- commands
def cmd_verify(args: argparse.Namespace) -> int:
    """``jukicard cert verify``: 0 valid, 5 invalid."""
    from jukicard.pki.certs import Certificate

    data = read_file(args.cert, "certificate")
    at = parse_at(args.at)
    try:
        setup = build_validator(args)
        cert = Certificate.parse(data)
    except ValidationError as exc:  # an input file that does not parse: malformed-*
        print_result(_malformed_result(exc, at), as_json=args.json)
        return EXIT_INVALID
    result = apply_usage(setup.validator.validate(cert, setup.at), setup.usage)
    print_result(result_to_json(result, extra_problems=setup.crl_problems), as_json=args.json)
    return 0 if result.valid else EXIT_INVALID
