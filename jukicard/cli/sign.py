"""``jukicard sign``: sign a file or a digest with the card's sign or auth key.

::

    jukicard sign FILE [--key sign|auth] [--hash sha256] [-o SIG|-] [--cert-out CERT]
    jukicard sign --digest HEX [--hash sha256] ...
    jukicard sign FILE --cms [--attached] [--scheme pkcs1v15|pss] [--key sign] -o FILE.p7s
    jukicard sign --challenge HEX --key auth --cms -o OUT.p7s
    jukicard sign doc.pdf --pdf -o signed.pdf [--tsa URL] [--field NAME] [--visible ...]

``--pdf``: see :mod:`jukicard.cli._signpdf` (PAdES with the sign key).

With ``--cms`` the output is a CMS SignedData (DER; RFC 5652 with CAdES-BES attributes,
:func:`jukicard.services.cmssign.sign_cms`) over FILE or over the caller's challenge bytes
(``--challenge``: a login nonce, normally with ``--key auth``), detached unless
``--attached``; the key's certificate and the CA certificate on the card are in it.  Without
``-o`` the DER is printed in base64; ``--json`` prints a summary (key, hash, attached, size,
signer, described as ``signature verify --json`` does: a sign certificate without its
subject) instead.  ``--scheme pss`` makes the CMS signature RSASSA-PSS (the card's
P1 ``04``; SHA-256 only: another ``--hash`` is a usage error before anything is sent);
the default ``pkcs1v15`` is RSA PKCS#1 v1.5 (P1 ``00``).

The signature is RSA PKCS#1 v1.5 over the DER DigestInfo of the hash (what
``jukicard signature verify FILE SIG --cert CERT`` checks, in any of the forms written
here).  Without ``-o`` it is printed in base64 on stdout; with ``-o`` the raw signature
bytes are written to the file, or to stdout with ``-o -`` (as ``cert export -o -``; with
``--json`` the JSON alone is printed).  The output paths are checked before the PIN is asked
(:mod:`jukicard.cli._files`): a path that is the document itself or stdin when the command
reads it (``FILE -`` or ``--pin-stdin``), ``-o`` equal to ``--cert-out``, raw bytes to a
terminal, a block device, a socket, a FIFO nobody reads, another user's file or FIFO in a
shared sticky directory are refused (exit 2).  It never uses the built-in test card without
``--emulated``.  PIN order for ``--pin-stdin``: one line, the key's PIN.
"""

from __future__ import annotations

import base64
import sys
from typing import TYPE_CHECKING, Any

import click

from jukicard.cli._common import (
    JukiCommand,
    LazyChoice,
    card_options,
    interaction,
    key_ids,
    notice,
    out,
    pin_stdin_option,
)
from jukicard.cli._signpdf import pdf_options, sign_pdf_command, wants_pdf

if TYPE_CHECKING:
    from jukicard.cli._common import CardSelection

__all__ = ["sign"]


def _hex(value: str, option: str) -> bytes:
    from jukicard.services.inputs import InputError

    text = value.strip().lower().removeprefix("0x").replace(":", "")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InputError(f"{option} must be hexadecimal", option=option) from None


def _content(file: str | None, challenge: str | None, pin_stdin: bool) -> bytes:
    """The bytes a CMS covers: the challenge, FILE, or stdin (``FILE -``), capped."""
    from jukicard.services.inputs import MAX_CMS_CONTENT, InputError, read_input

    if challenge is not None:
        value = _hex(challenge, "--challenge")
        if not value:
            raise InputError("--challenge is empty", option="--challenge")
        return value
    if file != "-":
        return read_input(file or "", option="FILE", what="document", limit=MAX_CMS_CONTENT)
    if pin_stdin:
        raise InputError("cannot read both the data and the PIN from stdin", option="FILE",
                         path="-")
    source: Any = getattr(sys.stdin, "buffer", None) or sys.stdin
    try:
        data = source.read(MAX_CMS_CONTENT + 1)
    except (AttributeError, OSError, ValueError):
        raise InputError("FILE -: cannot read stdin", option="FILE", path="-") from None
    if len(data) > MAX_CMS_CONTENT:
        raise InputError("FILE -: the content is too large for a CMS", option="FILE",
                         path="-")
    return bytes(data)


def _sign_cms(file: str | None, card: CardSelection, as_json: bool, pin_stdin: bool,
              digest: str | None, key: str, hash_alg: str, output: str | None, cms: bool,
              attached: bool, challenge: str | None, cert_out: str | None,
              scheme: str | None) -> int:
    """``sign --cms``: a CMS SignedData over FILE or ``--challenge`` (checked, then
    written atomically by :class:`~jukicard.cli._files.Outputs`)."""
    from jukicard.cli._signflow import sign_and_write
    from jukicard.services.cmssign import sign_cms
    from jukicard.services.inputs import InputError

    if not cms:
        raise click.UsageError("--attached, --challenge and --scheme need --cms")
    if scheme == "pss" and hash_alg != "sha256":
        raise click.UsageError(f"--scheme pss: the card's PSS signs SHA-256 hashes only "
                               f"(not --hash {hash_alg})")
    if digest is not None:
        raise click.UsageError("--cms signs the content itself: give FILE or --challenge, "
                               "not --digest")
    if (file is None) == (challenge is None):
        raise click.UsageError("give FILE or --challenge HEX (one of them)")
    if cert_out == "-" and (as_json or output in (None, "-")):
        raise InputError("--cert-out -: stdout already carries the CMS; write the "
                         "certificate to a file, or the CMS with -o FILE",
                         option="--cert-out", path="-")
    raw = None if output == "-" and as_json else output

    def sign(transport: Any, asker: Any, content: bytes) -> tuple[Any, bytes, bytes]:
        res = sign_cms(transport, asker, content, key=key, attached=attached,
                       hash_name=hash_alg, scheme=scheme or "pkcs1v15")
        return res, res.cms, res.certificate

    result, delivered = sign_and_write(card, pin_stdin, file, raw, cert_out, what="CMS",
                                       private=key == "sign",
                                       read=lambda: _content(file, challenge, pin_stdin),
                                       sign=sign)
    return _report(card, as_json, result.to_json(), result.cms, raw, output, cert_out,
                   delivered,
                   f"CMS ({len(result.cms)} bytes, {key} key, {hash_alg}, {result.scheme}, "
                   f"{'attached' if result.attached else 'detached'})")


def _report(card: CardSelection, as_json: bool, summary: dict[str, Any], payload: bytes,
            raw: str | None, output: str | None, cert_out: str | None, delivered: bool,
            what: str) -> int:
    """The result of ``sign``, raw or CMS: JSON (with where the files went), the payload
    in base64 on stdout when there is no ``-o``, or a notice naming the file written."""
    if as_json:
        obj: dict[str, Any] = dict(summary)
        if raw is not None:
            obj["output"] = output
        if cert_out is not None:
            obj["certificate_output"] = cert_out
        out().json({**obj, "card_source": card.source_json()})
    elif output is None:
        out().text(base64.b64encode(payload).decode("ascii"))
    elif delivered and output != "-":
        notice(f"{what} written to {output}")
    return 0


def _digest(file: str | None, digest: str | None, hash_alg: str, pin_stdin: bool) -> bytes:
    from jukicard.services.inputs import InputError, hash_file
    from jukicard.services.signing import hash_stream

    if digest is not None:
        return _hex(digest, "--digest")
    if file != "-":
        return hash_file(file or "", hash_alg, option="FILE")
    if pin_stdin:
        raise InputError("cannot read both the data and the PIN from stdin", option="FILE",
                         path="-")
    stdin = sys.stdin
    if stdin is None:  # closed at start-up (<&-)
        raise InputError("FILE -: stdin is closed", option="FILE", path="-")
    source: Any = getattr(stdin, "buffer", None) or stdin
    try:
        return hash_stream(source, hash_alg)
    except (OSError, ValueError) as exc:  # ValueError: closed after start-up
        why = getattr(exc, "strerror", None) or "stdin is closed"
        raise InputError(f"FILE -: cannot read stdin: {why}", option="FILE",
                         path="-") from None


@click.command("sign", cls=JukiCommand,
               short_help="sign a file or a digest with the card (sign or auth key)",
               help="Sign with a JPKI key on the card (RSA PKCS#1 v1.5 over a DigestInfo). "
               "The card's signature is checked against its certificate before it is output. "
               "FILE: the file to sign ('-' = stdin, not with --pin-stdin).")
@click.argument("file", metavar="[FILE]", required=False)
@card_options(fallback=False, never_why="signs with the resident's key")
@pin_stdin_option("the key's PIN")
@click.option("--digest", metavar="HEX", help="sign this ready-made digest (hex)")
@click.option("--key", type=LazyChoice(key_ids), default="sign", show_default=True,
              help="sign = 署名用 (asks the sign password); auth = 利用者証明用 (asks the "
              "4-digit auth PIN)")
@click.option("--hash", "hash_alg", type=click.Choice(("sha256", "sha384", "sha512")),
              default="sha256", show_default=True, help="hash algorithm")
@click.option("-o", "--output", metavar="SIG",
              help="write the raw signature bytes here ('-': to stdout, not to a terminal; "
              "default: base64 on stdout)")
@click.option("--cms", is_flag=True,
              help="write a CMS SignedData (DER, CAdES-BES) instead of a raw signature")
@click.option("--attached", is_flag=True, help="with --cms: put the content inside the CMS")
@click.option("--challenge", metavar="HEX",
              help="with --cms: sign these bytes (hex; a login nonce, with --key auth)")
@click.option("--scheme", type=click.Choice(("pkcs1v15", "pss")),
              help="with --cms: the signature scheme (default pkcs1v15; pss = RSASSA-PSS, "
              "SHA-256 only)")
@click.option("--cert-out", metavar="CERT",
              help="also write the key's certificate (PEM) here; NOTE: the sign certificate "
              "holds personal data")
@pdf_options
def sign(file: str | None, card: CardSelection, as_json: bool, pin_stdin: bool,
         digest: str | None, key: str, hash_alg: str, output: str | None,
         cms: bool, attached: bool, challenge: str | None, cert_out: str | None,
         scheme: str | None, **pdf: Any) -> int:
    from jukicard.cli._files import Outputs
    from jukicard.services.data import to_pem
    from jukicard.services.inputs import InputError
    from jukicard.services.signing import sign_digest

    if wants_pdf(pdf):  # issue 13: PAdES (jukicard.cli._signpdf)
        others = tuple(o for o, v in (("--cms", cms), ("--attached", attached),
                                      ("--challenge", challenge), ("--digest", digest),
                                      ("--scheme", scheme)) if v)
        return sign_pdf_command(file, card, as_json, pin_stdin, key, hash_alg, output,
                                cert_out, others, pdf, _report)
    if cms or attached or challenge is not None or scheme is not None:
        return _sign_cms(file, card, as_json, pin_stdin, digest, key, hash_alg, output,
                         cms, attached, challenge, cert_out, scheme)
    if (file is None) == (digest is None):
        raise click.UsageError("give FILE or --digest HEX (one of them)")
    if cert_out == "-" and (as_json or output in (None, "-")):
        # one stream, one result: a PEM and a signature (or JSON) mixed on stdout is neither
        raise InputError("--cert-out -: stdout already carries the signature; write the "
                         "certificate to a file, or the signature with -o FILE",
                         option="--cert-out", path="-")
    # every output path is checked (its file reserved) before the PIN is asked or spent;
    # stdin is an input whenever it is read (the document, or the PIN)
    reads_stdin = "-" if pin_stdin else None
    with Outputs(inputs=(("document", file), ("PIN (--pin-stdin)", reads_stdin)),
                 stdout=out()) as outputs:
        raw = None if output == "-" and as_json else output  # the JSON has the signature
        sig_file = outputs.plan("-o", raw, what="signature", binary=True)
        # the sign certificate holds name, address and birth date: a new file is 0600
        cert_file = outputs.plan("--cert-out", cert_out, what="certificate",
                                 private=key == "sign")
        value = _digest(file, digest, hash_alg, pin_stdin)
        asker = interaction(pin_stdin)
        with card.open() as transport:
            result = sign_digest(transport, asker, value, key=key, hash_alg=hash_alg,
                                 include_certificate=cert_out is not None)
        if sig_file is not None:
            sig_file.write(result.signature)
        if cert_file is not None and result.certificate is not None:
            cert_file.write(to_pem(result.certificate))
    return _report(card, as_json, result.to_json(), result.signature, raw, output, cert_out,
                   sig_file is not None and sig_file.delivered,
                   f"signature ({len(result.signature)} bytes, {key} key, {hash_alg})")
