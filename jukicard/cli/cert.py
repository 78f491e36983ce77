"""``jukicard cert verify`` (path validation) and ``jukicard cert export`` (from a card).

``jukicard cert verify CERT [--preset jpki|rfc5280] [--anchor FILE]… [--intermediate FILE]…
[--crl FILE|URL]… [--no-revocation] [--at ISO8601] [--policy OID]… [--explicit-policy]
[--inhibit-mapping] [--inhibit-any-policy] [--jpki-profile] [--usage sign|auth]
[--min-rsa-bits N] [--lenient] [--max-chain-depth N] [--allow-test-anchors]
[--production-anchor SHA256]… [--crl-cache DIR] [--fetch-crls] [--json]``

Exit status: 0 only when the path is valid; 5 when it is not; 2 for usage errors (missing
or oversized file, bad ``--at`` or ``--policy``, an ``--anchor``, ``--intermediate`` or
``--crl`` file that does not hold what the option needs, a ``--crl`` URL that is not
http(s)...: the error names the option and the file).  The result (reason, message, path,
revocation, the validation time used) goes to stdout, as text or as JSON::

    {"valid": false, "reason": "revoked", "message": "...", "at": "...Z",
     "path": ["C=JP, O=JPKI, ...", ...], "revocation": [{...}]}

A CERT that does not parse gives ``valid: false`` with a ``malformed-…`` reason, and an
``input`` object naming the argument and file (CERT is the thing being verified; a wrong
option input is the operator's mistake, exit 2).  ``--preset rfc5280`` (the default) is
generic RFC 5280 validation up to the ``--anchor`` certificates (what conformance suites
such as NIST PKITS need).  ``--preset jpki`` (``--jpki-profile`` is a synonym; ``--usage``
implies it) is the production JPKI policy: without ``--anchor`` it trusts the J-LIS roots
bundled with jukicard (:mod:`jukicard.pki.anchors`); an ``--anchor`` that is not a
production J-LIS root (a test PKI) is refused (exit 2) unless ``--allow-test-anchors``, or
its SHA-256 is given with ``--production-anchor`` (a J-LIS generation newer than this
release).  The result then says ``preset`` and which ``anchor`` the path ends at.  The work
is done by :mod:`jukicard.services.verify` (:mod:`jukicard.services.trust`); this module
holds the options (shared with ``signature verify``: :func:`validation_options`) and the
printing.

``cert export auth|auth-ca|sign|sign-ca`` reads a certificate from the card's JPKI AP
(``sign`` needs the sign password and holds personal data).  It never uses the built-in
test card without ``--emulated`` (a test certificate could be taken for the resident's).
DER is written to stdout unless stdout is a terminal (``-o FILE``, or ``-o -`` to force); a
``-o`` path is checked before the PIN (:mod:`jukicard.cli._files`: DER to a terminal
device is refused, so are block devices, sockets, FIFOs nobody reads, other users' files in a
shared sticky directory, and stdin when ``--pin-stdin`` reads it).

Text output escapes control characters in every value (certificate subjects, file names):
see :mod:`jukicard.cli._text`.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from jukicard.cli._common import (
    JukiGroup,
    LazyChoice,
    card_options,
    cert_ids,
    interaction,
    is_terminal,
    json_option,
    notice,
    out,
    pin_stdin_option,
)
from jukicard.cli._text import lines
from jukicard.errors import UsageError

if TYPE_CHECKING:
    from jukicard.cli._common import CardSelection
    from jukicard.services.verify import VerifyOptions, VerifyReport

__all__ = ["cert", "verify", "export", "validation_options", "verify_options", "print_report",
           "format_text", "EXIT_INVALID"]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INVALID = 5


@click.group("cert", cls=JukiGroup, help="certificates: validate a path (verify), export from "
             "a card", short_help="certificates: validate a path (verify), export from a card")
def cert() -> None:
    pass


# --------------------------------------------------------------------------- options
def validation_options(*, anchors_required: bool, fetch: bool = True) -> Callable[[F], F]:
    """The path-validation options shared by ``cert verify``, ``signature verify`` and
    ``bulk-verify`` (``fetch=False``: without ``--fetch-crls``, which that command refuses)."""
    options = [
        click.option("--preset", type=click.Choice(("jpki", "rfc5280")),
                     help="validation preset: rfc5280 (default: generic RFC 5280 up to the "
                     "--anchor certificates) or jpki (production JPKI: the bundled J-LIS roots "
                     "unless --anchor is given, RSA >= 2048, SHA-256+, JPKI certificate "
                     "profile)"),
        click.option("--anchor", "anchors", multiple=True, metavar="FILE",
                     required=anchors_required,
                     help="trust anchor certificate(s), DER or PEM (repeatable; a PEM file may "
                     "hold several; at most 1 MiB each); optional with --preset jpki"),
        click.option("--intermediate", "intermediates", multiple=True, metavar="FILE",
                     help="intermediate CA certificate(s), DER or PEM (repeatable)"),
        click.option("--crl", "crls", multiple=True, metavar="FILE|URL",
                     help="CRL file (DER or PEM, at most 512 MiB) or http(s) URL (repeatable)"),
        click.option("--crl-cache", metavar="DIR",
                     help="cache directory for CRLs fetched by URL (default: no cache)"),
    ]
    if fetch:
        options.append(click.option(
            "--fetch-crls", is_flag=True,
            help="also fetch CRLs from the http(s) distribution points named in the "
            "certificates (off by default: a counter terminal may have no network; "
            "JPKI distribution points are directory names, give those with --crl)"))
    options += [
        click.option("--no-revocation", is_flag=True,
                     help="do not check revocation (default: a usable CRL is required)"),
        click.option("--at", metavar="ISO8601",
                     help="validation time, e.g. 2026-06-01T00:00:00Z (default: now, UTC; a "
                     "time without zone is UTC)"),
        click.option("--policy", "policies", multiple=True, metavar="OID",
                     help="acceptable certificate policy (user-initial-policy-set; repeatable; "
                     "default anyPolicy)"),
        click.option("--explicit-policy", is_flag=True,
                     help="initial-explicit-policy: require a valid policy"),
        click.option("--inhibit-mapping", is_flag=True, help="initial-policy-mapping-inhibit"),
        click.option("--inhibit-any-policy", is_flag=True, help="initial-any-policy-inhibit"),
        click.option("--jpki-profile", is_flag=True,
                     help="the same as --preset jpki (kept for scripts)"),
        click.option("--usage", type=click.Choice(("sign", "auth")),
                     help="require a JPKI sign (署名用) or auth (利用者証明用) certificate "
                     "(implies --preset jpki)"),
        click.option("--min-rsa-bits", type=click.IntRange(min=0), metavar="N",
                     help="smallest RSA key accepted in the path (default 2048 with "
                     "--preset jpki, else 1024)"),
        click.option("--lenient", is_flag=True,
                     help="skip the RFC 5280 §4/§5 profile checks of every certificate and CRL "
                     "(key identifiers, basicConstraints, keyUsage, criticality, encodings, CRL "
                     "number...), which run by default; for test suites and legacy PKIs.  The "
                     "§6 path checks always run"),
        click.option("--max-chain-depth", type=click.IntRange(min=0), metavar="N",
                     help="most CA certificates between the trust anchor and the certificate "
                     "(default 8); a deeper chain is not built (reason path-building-limit)"),
        click.option("--allow-test-anchors", is_flag=True,
                     help="with --preset jpki: also trust --anchor certificates that are not "
                     "production J-LIS roots (a test PKI, the emulator's CA)"),
        click.option("--production-anchor", "production_anchors", multiple=True,
                     metavar="SHA256",
                     help="with --preset jpki: trust the --anchor certificate with this SHA-256 "
                     "fingerprint as a production J-LIS root (a generation newer than this "
                     "jukicard; repeatable)"),
        json_option("print the result as JSON"),
    ]

    def decorator(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return decorator


def verify_options(params: dict[str, Any]) -> VerifyOptions:
    """The :class:`~jukicard.services.verify.VerifyOptions` of the parsed options (consumed
    from ``params``)."""
    from jukicard.services.verify import VerifyOptions, parse_at

    at = params.pop("at")
    return VerifyOptions(
        anchors=params.pop("anchors"), intermediates=params.pop("intermediates"),
        crls=params.pop("crls"), crl_cache=params.pop("crl_cache"),
        fetch_crls=params.pop("fetch_crls", False), no_revocation=params.pop("no_revocation"),
        at=None if at is None else parse_at(at), policies=params.pop("policies"),
        explicit_policy=params.pop("explicit_policy"),
        inhibit_mapping=params.pop("inhibit_mapping"),
        inhibit_any_policy=params.pop("inhibit_any_policy"),
        jpki_profile=params.pop("jpki_profile"), usage=params.pop("usage"),
        min_rsa_bits=params.pop("min_rsa_bits"), preset=params.pop("preset"),
        allow_test_anchors=params.pop("allow_test_anchors"),
        production_anchors=params.pop("production_anchors"),
        lenient=params.pop("lenient"), max_chain_depth=params.pop("max_chain_depth"))


# --------------------------------------------------------------------------- printing
def _value(value: Any) -> str:
    """A value for text output: ``yes``/``no`` for a boolean, text otherwise (escaped
    once, with its line, by :func:`format_text`)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _signature_rows(signatures: list[dict[str, Any]], indent: str) -> list[str]:
    """``signature verify``'s per-signature results (services/sigresult.py), a few lines
    each: the verdict, what was signed how, the time stamp, the path, a PDF's coverage."""
    rows: list[str] = [f"{indent}signatures:"]
    for sig in signatures:
        where = f" field {sig['field']}, revision {sig.get('revision')}" \
            if sig.get("field") is not None else ""
        rows.append(f"{indent}  #{sig.get('index')}{where}: "
                    f"{'valid' if sig.get('valid') else 'INVALID'} ({sig.get('reason')})"
                    + ("" if sig.get("valid") else f": {sig.get('message')}"))
        signer = sig.get("signer") or {}
        made = ", ".join(str(v) for v in (sig.get("hash"), sig.get("scheme")) if v)
        rows.append(f"{indent}    signer: {signer.get('subject', '-')}"
                    + (f" ({made})" if made else "")
                    + (f", signing time (claimed) {sig['signing_time']}"
                       if sig.get("signing_time") else ""))
        ts = sig.get("timestamp")
        if ts:
            rows.append(f"{indent}    time stamp: {ts.get('time')} "
                        f"{'valid' if ts.get('valid') else 'INVALID'} ({ts.get('reason')}), "
                        f"TSA {ts.get('tsa')}" + (f"; {ts['message']}" if ts.get("message")
                                                  else ""))
        path = sig.get("path")
        if path:
            rows.append(f"{indent}    path: {'valid' if path.get('valid') else 'INVALID'} "
                        f"({path.get('reason')})")
        cov = sig.get("coverage")
        if cov:
            rows.append(f"{indent}    coverage: byte range {cov.get('byte_range')}, "
                        f"{'whole file' if cov.get('whole_file') else 'its revision'}"
                        + (f", {cov['unsigned_bytes_after']} bytes after it "
                           f"({cov.get('modification')})"
                           if cov.get("unsigned_bytes_after") else ""))
    return rows


def _rows(obj: dict[str, Any], indent: str) -> list[str]:
    rows: list[str] = []
    for key, value in obj.items():
        if key == "path_sha256":
            continue
        if key == "signatures" and isinstance(value, list) and value and \
                all(isinstance(v, dict) and "index" in v for v in value):
            rows += _signature_rows(value, indent)
            continue
        if isinstance(value, dict):
            rows.append(f"{indent}{key}:")
            rows += _rows(value, indent + "  ")
        elif isinstance(value, list):
            if not value:
                continue
            rows.append(f"{indent}{key}:")
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    text = ", ".join(f"{k}={_value(v)}" for k, v in item.items()
                                     if v is not None)
                    rows.append(f"{indent}  [{i}] {text}")
                else:
                    rows.append(f"{indent}  [{i}] {_value(item)}")
        elif value is not None and value != "":
            rows.append(f"{indent}{key}: {_value(value)}")
    return rows


def format_text(obj: dict[str, Any], indent: str = "") -> str:
    """A result object as ``key: value`` lines: booleans as yes/no, every value escaped
    (a certificate subject or a file name cannot move the cursor or start a line)."""
    return lines(_rows(obj, indent))


def print_report(report: VerifyReport, as_json: bool) -> int:
    """Print a verification result; 0 when valid, 5 when not."""
    if as_json:
        out().json(report.to_json())
    else:
        out().text(format_text(report.to_json()))
    return 0 if report.valid else EXIT_INVALID


# --------------------------------------------------------------------------- commands
@cert.command("verify", short_help="validate a certificate path (RFC 5280 + CRLs, or the "
              "JPKI preset)",
              help="Validate CERT up to one of the --anchor certificates (with --preset jpki "
              "and no --anchor: the J-LIS roots bundled with jukicard). Exit 0 only when the "
              "path is valid, 5 when it is not, 2 on usage errors.")
@click.argument("cert_path", metavar="CERT")
@validation_options(anchors_required=False)
def verify(cert_path: str, as_json: bool, **params: Any) -> int:
    from jukicard.services.verify import verify_certificate

    return print_report(verify_certificate(cert_path, verify_options(params)), as_json)


@cert.command("export", short_help="write a JPKI certificate from the card (PEM or DER)",
              help="Read a certificate from the card's JPKI AP.  'sign' needs the sign "
              "password and holds personal data (name, address).")
@click.argument("which", type=LazyChoice(cert_ids))
@card_options(fallback=False, never_why="exports a certificate, and one from the built-in "
              "test card could be taken for the resident's")
@pin_stdin_option("the sign password (sign only)")
@click.option("--format", "fmt", type=click.Choice(("pem", "der")), default="pem",
              show_default=True, help="output encoding")
@click.option("-o", "--output", metavar="FILE",
              help="write to FILE instead of stdout (DER to a terminal needs -o -); a device "
              "or FIFO is written through, a regular file replaced whole; refused before the "
              "PIN: DER to a terminal FILE, a block device, a socket, a FIFO nobody reads, "
              "another user's file or FIFO in a shared sticky directory")
def export(which: str, card: CardSelection, as_json: bool, pin_stdin: bool, fmt: str,
           output: str | None) -> int:
    from jukicard.cli._files import Outputs
    from jukicard.services.data import export_certificate, to_pem

    to_stdout = output is None or output == "-"
    if fmt == "der" and output is None and not as_json and is_terminal(sys.stdout):
        raise UsageError("refusing to write DER to the terminal; use -o FILE (or -o - to "
                         "force)")
    with Outputs(inputs=(("PIN (--pin-stdin)", "-" if pin_stdin else None),),
                 stdout=out()) as outputs:
        # checked before the PIN (see jukicard.cli._files); the sign certificate is personal
        # data: a new file is 0600, a replaced one at most 0600 and the user's
        target = None if to_stdout else outputs.plan("-o", output, what=f"{which} certificate",
                                                     private=which == "sign",
                                                     binary=fmt == "der")
        asker = interaction(pin_stdin)
        with card.open() as transport:
            der = export_certificate(transport, which, asker)
        payload = der if fmt == "der" else to_pem(der)
        if target is not None:
            target.write(payload)
    if as_json:
        obj: dict[str, Any] = {"certificate": which, "format": fmt, "bytes": len(payload)}
        if target is not None:
            obj["output"] = output
        elif fmt == "pem":
            obj["pem"] = payload.decode("ascii")
        else:
            obj["der_base64"] = base64.b64encode(payload).decode("ascii")
        out().json({**obj, "card_source": card.source_json()})
    elif target is None:
        if fmt == "pem":
            out().text(payload.decode("ascii"), end="")
        else:
            out().binary(payload)
    elif target.delivered:
        notice(f"{which} certificate written to {output} ({fmt})")  # escaped by notice()
    return 0
