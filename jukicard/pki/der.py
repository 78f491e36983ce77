"""Reading DER/PEM input: file or bytes, PEM unarmoring, strict DER framing of signed objects.

Shared by the certificate (:mod:`jukicard.pki.certs`) and CRL (:mod:`jukicard.pki.crl`)
parsers; it sits below both so neither has to import the other.

The parsers' caps live here too (a hostile input is refused with a typed ``malformed-*``
error before it costs memory or deep recursion):

==========================  ==========  ==================================================
cap                         value       why
==========================  ==========  ==================================================
``MAX_CERTIFICATE_SIZE``    64 KiB      JPKI certificates are under 2 KiB; the largest
                                        post-quantum (SLH-DSA) ones stay under 64 KiB
``MAX_CRL_SIZE``            512 MiB     the CRL fetcher's download limit and the CLI's
                                        ``--crl`` file limit: 10M entries with a
                                        reasonCode (~35 bytes each) fit
``MAX_NESTING``             32 levels   certificates nest about 15 deep (extension values
                                        included); asn1crypto decodes recursively
``MAX_EXTENSIONS``          64          per certificate or CRL (real ones carry ~10)
``MAX_GENERAL_NAMES``       1024        subjectAltName / issuerAltName entries, and
                                        nameConstraints subtrees (permitted + excluded)
``MAX_NAME_ATTRIBUTES``     64          attributes (hence RDNs) of one distinguished name
==========================  ==========  ==================================================
"""

from __future__ import annotations

import os
from typing import Any

from asn1crypto import parser
from asn1crypto import pem as _pem

from jukicard.pki.errors import MalformedError
from jukicard.pki.reasons import Reason

__all__ = ["Source", "read_source", "unarmor_all", "der_blobs", "single_der",
           "check_der_framing", "check_der_nesting", "check_size", "check_count", "check_name_caps",
           "MAX_CERTIFICATE_SIZE", "MAX_CRL_SIZE",
           "MAX_NESTING", "MAX_EXTENSIONS", "MAX_GENERAL_NAMES", "MAX_NAME_ATTRIBUTES"]

# ---------------------------------------------------------------- caps (issue 9)
#: Largest certificate DER parsed.
MAX_CERTIFICATE_SIZE = 64 * 1024
#: Largest CRL DER parsed (equal to the CRL fetcher's and the CLI's limits).
MAX_CRL_SIZE = 512 * 1024 * 1024
#: Deepest nesting of TLVs in a certificate (or a CRL's issuer and extensions), counting
#: the DER inside OCTET STRINGs (extension values).
MAX_NESTING = 32
#: Most extensions in one certificate or CRL.
MAX_EXTENSIONS = 64
#: Most GeneralNames in a subjectAltName/issuerAltName, or subtrees in nameConstraints.
MAX_GENERAL_NAMES = 1024
#: Most attributes in one distinguished name.
MAX_NAME_ATTRIBUTES = 64

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


#: Universal string/time types that DER encodes only in the primitive form (X.690 §10.2).
_PRIMITIVE_ONLY = frozenset({3, 4, 12, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30})


def is_canonical_der(der: bytes, limit: int = MAX_NESTING) -> bool:
    """Whether ``der`` (one or more TLVs) is DER in the parts a signer can vary without
    changing the decoded value (X.690 §10/§11), checked over every level without recursion
    and without building objects: definite minimal lengths, no constructed strings, the
    components of every universal SET (OF) in ascending order of their encodings (§11.6),
    minimal INTEGERs, BOOLEAN ``00``/``FF``.  Parsing (tags, value syntax) stays
    asn1crypto's, afterwards.

    Far cheaper than asn1crypto's ``dump(force=True)`` round trip on a CAdES
    signed-attribute set, whose re-encoding of nested names dominated a CMS check.

    :param limit: deepest nesting walked (deeper: ``False``).
    """
    stack = [(bytes(der), 1, False)]
    while stack:
        blob, level, is_set = stack.pop()
        if level > limit:
            return False
        off = 0
        previous: bytes | None = None
        while off < len(blob):
            try:
                cls_, method, tag, header, contents, trailer = parser.parse(blob[off:])
            except ValueError:
                return False
            size = len(header) + len(contents) + len(trailer)
            encoding = blob[off:off + size]
            if trailer or parser.emit(cls_, method, tag, contents) != encoding:
                return False  # indefinite or non-minimal length
            if is_set:
                if previous is not None and encoding < previous:
                    return False
                previous = encoding
            if cls_ == 0:
                if method == 1 and tag in _PRIMITIVE_ONLY:
                    return False
                if tag == 2 and len(contents) > 1 and (
                        (contents[0] == 0 and contents[1] < 0x80)
                        or (contents[0] == 0xFF and contents[1] >= 0x80)):
                    return False
                if tag == 1 and contents not in (b"\x00", b"\xff"):
                    return False
            if method == 1:
                stack.append((contents, level + 1, cls_ == 0 and tag == 17))
            off += size
    return True


def check_der_nesting(der: bytes, error: type[MalformedError], what: str,
                      limit: int = MAX_NESTING) -> None:
    """Reject DER nested deeper than ``limit`` levels, without recursion.

    Walks every TLV with asn1crypto's parser.  The content of an OCTET STRING that starts
    like a SEQUENCE or SET (an extension value) is walked as nested DER too, tentatively:
    content that does not parse is opaque bytes (a key identifier), not an error.

    :param error: the :class:`MalformedError` subclass raised for too deep a nesting.
    :param what: the object's name for the message (``"certificate"``, ``"CRL"``).
    :raises MalformedError: (``error``) if the nesting is deeper than ``limit``.
    :raises ValueError: if ``der`` does not parse.
    """
    stack = [(der, 1, False)]
    while stack:
        blob, level, tentative = stack.pop()
        if level > limit:
            raise error(f"{what} nested more than {limit} levels deep")
        off = 0
        while off < len(blob):
            try:
                cls_, method, tag, header, contents, trailer = parser.parse(blob[off:])
            except ValueError:
                if tentative:
                    break
                raise
            off += len(header) + len(contents) + len(trailer)
            if method == 1:
                stack.append((contents, level + 1, tentative))
            elif cls_ == 0 and tag == 4 and contents[:1] in (b"\x30", b"\x31"):
                stack.append((contents, level + 1, True))


def count_values(contents: bytes, limit: int) -> int:
    """How many DER values the ``contents`` of a SET/SEQUENCE OF hold, counting at most
    ``limit + 1``: the header of each value is read in place (asn1crypto's parser in
    lengths-only mode), so a set of millions of tiny values is refused in microseconds
    instead of being built as objects first.

    :raises ValueError: if a value header is malformed or runs past the end.
    """
    end = len(contents)
    pointer = count = 0
    while pointer < end and count <= limit:
        try:
            # asn1crypto's own header parser; returns (contents start, value end)
            _start, pointer = parser._parse(contents, end, pointer, lengths_only=True)
        except Exception as exc:
            raise ValueError("malformed value header in a SET/SEQUENCE OF") from exc
        count += 1
    return count


def check_size(der: bytes, limit: int, error: type[MalformedError], what: str) -> None:
    """Reject a DER object larger than ``limit`` bytes.

    :raises MalformedError: (``error``) if it is.
    """
    if len(der) > limit:
        raise error(f"{what} of {len(der)} bytes, above the {limit}-byte limit")


def check_name_caps(name: Any, error: type[MalformedError], what: str) -> None:
    """At most :data:`MAX_NAME_ATTRIBUTES` attributes in an asn1crypto ``Name`` (checked
    before its attributes are decoded).

    :raises MalformedError: (``error``) otherwise.
    """
    check_count(sum(len(rdn) for rdn in name.chosen), MAX_NAME_ATTRIBUTES, error,
                f"attributes in a {what} name")


def check_count(count: int, limit: int, error: type[MalformedError], what: str) -> None:
    """Reject ``count`` items of ``what`` when above ``limit``.

    :raises MalformedError: (``error``) if it is.
    """
    if count > limit:
        raise error(f"{count} {what}, above the limit of {limit}")
