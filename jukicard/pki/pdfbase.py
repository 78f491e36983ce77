"""What the PDF signing (:mod:`jukicard.pki.pades`) and PDF verification
(:mod:`jukicard.pki.pdfverify`) share without loading pyHanko: the malformed-PDF error and
the header sniff (``signature verify FILE`` decides what FILE is with it, cheaply)."""

from __future__ import annotations

from jukicard.pki.errors import MalformedError
from jukicard.pki.reasons import Reason

__all__ = ["MalformedPdfError", "looks_like_pdf"]


class MalformedPdfError(MalformedError):
    """The bytes are not a PDF pyHanko's strict reader accepts: not a PDF, truncated, broken
    cross-reference or trailer, a broken signature field.  The message never echoes the
    input."""

    reason = Reason.MALFORMED_PDF


def looks_like_pdf(head: bytes) -> bool:
    """True when ``head`` (the first KiB of a file) holds the ``%PDF-`` header (allowed
    anywhere in the first 1024 bytes, as readers allow)."""
    return b"%PDF-" in bytes(head[:1024])
