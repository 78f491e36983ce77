"""Reading DER/PEM input: file or bytes, PEM unarmoring, strict DER framing of signed objects.

Shared by the certificate (:mod:`jukicard.pki.certs`) and CRL (:mod:`jukicard.pki.crl`)
parsers; it sits below both so neither has to import the other.
"""

from __future__ import annotations

import os

from asn1crypto import parser
from asn1crypto import pem as _pem

from jukicard.pki.errors import MalformedError
from jukicard.pki.reasons import Reason

__all__ = ["Source", "read_source", "unarmor_all", "der_blobs", "single_der",
           "check_der_framing"]

#: What the ``load_*`` functions accept: the bytes themselves or a file path.
Source = bytes | bytearray | memoryview | str | os.PathLike[str]


def read_source(source: Source) -> bytes:
    """The bytes of ``source``: given bytes as they are, a path's file content.

    :raises OSError: if the file cannot be read.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    with open(os.fspath(source), "rb") as f:
        return f.read()


def unarmor_all(data: bytes, kinds: tuple[str, ...]) -> list[bytes]:
    """Return the DER blobs in ``data``: PEM blocks of the given kinds, or ``data`` itself.

    :param data: DER or PEM (several blocks allowed).
    :param kinds: accepted PEM labels (``"CERTIFICATE"``, ``"X509 CRL"``...).
    :raises MalformedError: if PEM armor is broken.
    """
    if not _pem.detect(data):
        return [data]
    out: list[bytes] = []
    try:
        for label, _headers, der in _pem.unarmor(data, multiple=True):
            if label in kinds:
                out.append(der)
    except Exception as exc:
        raise MalformedError(f"broken PEM armor ({type(exc).__name__})",
                             reason=Reason.MALFORMED_PEM) from exc
    return out


def der_blobs(source: Source, kinds: tuple[str, ...], error: type[MalformedError]
              ) -> list[bytes]:
    """The DER blobs of ``source`` (bytes or a file path): see :func:`unarmor_all`.

    :param error: the :class:`MalformedError` subclass raised for broken PEM armor.
    :raises MalformedError: (``error``) if PEM armor is broken.
    :raises OSError: if the file cannot be read.
    """
    try:
        return unarmor_all(read_source(source), kinds)
    except MalformedError as exc:
        raise error(str(exc)) from exc


def single_der(data: bytes, kinds: tuple[str, ...], error: type[MalformedError], what: str
               ) -> bytes:
    """The one DER object in ``data`` (DER, or PEM holding exactly one block of ``kinds``).

    :param what: the object's name for the message (``"certificate"``, ``"CRL"``).
    :raises MalformedError: (``error``) broken armor, or not exactly one object.
    """
    ders = der_blobs(data, kinds, error)
    if len(ders) != 1:
        raise error(f"expected one {what}, found {len(ders)}")
    return ders[0]


def check_der_framing(der: bytes, depth: int = 2) -> None:
    """Reject BER framing (indefinite or non-minimal lengths) of a signed object.

    Checks the outer SEQUENCE and its children down to ``depth`` levels with asn1crypto's
    parser (``emit`` re-creates the DER header, which must equal the one received).  The
    signed content is protected by its signature; this closes the unsigned outer wrapper.

    :raises ValueError: if the framing is not DER.
    """
    def walk(blob: bytes, level: int) -> None:
        off = 0
        while off < len(blob):
            cls_, method, tag, header, contents, trailer = parser.parse(blob[off:])
            size = len(header) + len(contents) + len(trailer)
            if trailer or parser.emit(cls_, method, tag, contents) != blob[off:off + size]:
                raise ValueError("BER framing (non-minimal or indefinite length)")
            if method == 1 and level > 1:
                walk(contents, level - 1)
            off += size

    walk(der, depth + 1)
    if parser.peek(der) != len(der):
        raise ValueError("trailing data")
