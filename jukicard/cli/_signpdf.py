"""``jukicard sign doc.pdf --pdf``: the PDF branch of ``jukicard sign`` (issue 13).

::

    jukicard sign doc.pdf --pdf -o signed.pdf [--tsa URL] [--field NAME]
                          [--visible [--page N] [--box x1,y1,x2,y2]] [--json]

A PAdES signature (B-B; B-T with ``--tsa``) made with the card's sign key
(:func:`jukicard.services.pdfsign.sign_pdf`), added to the PDF as an incremental update
(earlier signatures stay valid).  ``-o`` is required (``-o -``: the signed PDF on stdout,
not to a terminal); it may not be the input itself (as for every ``sign`` output: write a
new file).  The output is written atomically after the signed PDF has been read back and
checked: a failure (wrong PIN, TSA down, a PDF that cannot be signed) leaves no file.

Like the rest of the command modules this one imports click and :mod:`jukicard.cli._common`
only; the services (and pyHanko) are imported when the command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from jukicard.cli._common import CardSelection

__all__ = ["pdf_options", "wants_pdf", "sign_pdf_command"]

F = TypeVar("F", bound=Callable[..., Any])

#: The default stamp box (points from the lower-left corner of the page): bottom left.
DEFAULT_BOX = "36,36,236,106"
_PDF_ONLY = ("tsa", "tsa_timeout", "field", "visible", "page", "box")


def pdf_options(func: F) -> F:
    """The ``--pdf`` options of ``jukicard sign`` (one block)."""
    decorators = [
        click.option("--pdf", "pdf", is_flag=True,
                     help="sign FILE as a PDF (PAdES, sign key): an incremental update "
                     "written to -o"),
        click.option("--tsa", metavar="URL",
                     help="with --pdf: add an RFC 3161 time-stamp from this http(s) TSA "
                     "(PAdES B-T)"),
        click.option("--tsa-timeout", type=click.FloatRange(min=0.1, max=300.0),
                     default=10.0, show_default=True, metavar="SECONDS",
                     help="with --tsa: network timeout of each TSA exchange"),
        click.option("--field", metavar="NAME",
                     help="with --pdf: sign this signature field (an existing empty one, "
                     "or a new one of that name; default a new field SignatureN)"),
        click.option("--visible", is_flag=True,
                     help="with --pdf: draw a stamp (text without personal data)"),
        click.option("--page", type=click.IntRange(min=1), metavar="N",
                     help="with --visible: page of the stamp, from 1 (default 1)"),
        click.option("--box", metavar="x1,y1,x2,y2",
                     help=f"with --visible: stamp box in points (default {DEFAULT_BOX})"),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def wants_pdf(options: dict[str, Any]) -> bool:
    """Whether any ``--pdf`` option was given (then the PDF branch runs, and complains
    about a missing ``--pdf``)."""
    return bool(options.get("pdf")) or any(
        options.get(k) not in (None, False, 10.0) for k in _PDF_ONLY)


def _box(text: str | None) -> tuple[int, int, int, int]:
    parts = (text or DEFAULT_BOX).split(",")
    try:
        values = tuple(int(p.strip()) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise click.UsageError("--box must be four integers x1,y1,x2,y2")
    return values[0], values[1], values[2], values[3]


def sign_pdf_command(file: str | None, card: CardSelection, as_json: bool, pin_stdin: bool,
                     key: str, hash_alg: str, output: str | None, cert_out: str | None,
                     others: tuple[str, ...], options: dict[str, Any],
                     report: Callable[..., int]) -> int:
    """Run ``sign FILE --pdf``.

    :param others: the non-PDF options given (``--cms``...), refused with ``--pdf``.
    :param options: the values of :func:`pdf_options`' options.
    :param report: ``sign``'s result printer (JSON summary or the notice of the file).
    """
    from jukicard.cli._signflow import sign_and_write
    from jukicard.pki.pades import MAX_PDF_SIZE, PdfStamp
    from jukicard.services.inputs import InputError, read_input
    from jukicard.services.pdfsign import sign_pdf

    if not options.get("pdf"):
        raise click.UsageError("--tsa, --field, --visible, --page and --box need --pdf")
    if others:
        raise click.UsageError(f"--pdf cannot be combined with {', '.join(others)}")
    if key != "sign":
        raise click.UsageError("--pdf signs with the sign key (署名用); not with --key auth")
    if file is None or file == "-":
        raise click.UsageError("--pdf needs the PDF as a FILE (not stdin)")
    if output is None:
        raise click.UsageError("--pdf needs -o SIGNED.pdf (or -o - for stdout)")
    if not options["visible"] and (options["page"] is not None or options["box"] is not None):
        raise click.UsageError("--page and --box need --visible")
    if options["tsa"] is None and options["tsa_timeout"] != 10.0:
        raise click.UsageError("--tsa-timeout needs --tsa")
    stamp = None
    if options["visible"]:
        stamp = PdfStamp(page=(options["page"] or 1) - 1, box=_box(options["box"]))
    if output == "-" and as_json:
        raise click.UsageError("-o - --json: stdout carries the signed PDF or the JSON, "
                               "not both; write the PDF with -o FILE")
    if cert_out == "-" and (as_json or output == "-"):
        raise InputError("--cert-out -: stdout already carries the PDF; write the "
                         "certificate to a file, or the PDF with -o FILE",
                         option="--cert-out", path="-")
    def sign(transport: Any, asker: Any, data: bytes) -> tuple[Any, bytes, bytes]:
        res = sign_pdf(transport, asker, data, field_name=options["field"], stamp=stamp,
                       tsa_url=options["tsa"], tsa_timeout=options["tsa_timeout"],
                       hash_name=hash_alg)
        return res, res.pdf, res.certificate

    result, delivered = sign_and_write(
        card, pin_stdin, file, output, cert_out, what="signed PDF", private=True,
        read=lambda: read_input(file, option="FILE", what="PDF", limit=MAX_PDF_SIZE),
        sign=sign)
    return report(card, as_json, result.to_json(), result.pdf, output, output, cert_out,
                  delivered,
                  f"signed PDF ({len(result.pdf)} bytes, PAdES {result.level}, "
                  f"field {result.field_name})")
