"""The items and results of the bulk path (:mod:`jukicard.pki.bulk`), and how it reads a
document file: as a stream to hash it (any size), or whole for a CMS, capped at
:data:`MAX_CMS_CONTENT` (the CMS verifier takes its content as bytes).

A problem with an item that is not a validation outcome is an :class:`ItemProblem`
carrying a :class:`BulkReason`; :class:`~jukicard.pki.bulk.BulkVerifier` turns it into the
item's result, never an exception out of the run.
"""

from __future__ import annotations

import enum
import hashlib
import os
import stat
from collections.abc import Iterator
from typing import Any, NamedTuple

from jukicard.errors import ValidationError

__all__ = ["BulkReason", "BulkItem", "ItemResult", "ItemProblem", "VALID_MESSAGE",
           "MAX_CMS_CONTENT", "hash_document", "read_content", "failed"]

#: The message of a valid item (as ``signature verify`` words it).
VALID_MESSAGE = "signature and certificate path valid"
#: Largest CMS content (a document signed by a CMS) read whole: the same as
#: :data:`jukicard.services.inputs.MAX_CMS_CONTENT`, ``signature verify``'s cap (a test
#: checks it).  A document hashed for a raw signature is read as a stream, uncapped.
MAX_CMS_CONTENT = 256 * 1024 * 1024
_CHUNK = 1 << 20  # document read size


class BulkReason(enum.StrEnum):
    """Per-item codes of the bulk path that are not validation outcomes (the per-item
    ``signature verify`` stops with a usage error, exit 2, on these)."""

    #: A document, signature or certificate file could not be read, or is larger than the
    #: cap for its kind (as ``signature verify`` caps it).
    UNREADABLE_INPUT = "unreadable-input"
    #: A manifest line that is not a JSON object with the required fields.
    MALFORMED_LINE = "malformed-manifest-line"
    #: An id already seen earlier in the manifest (the later line is not verified).
    DUPLICATE_ID = "duplicate-id"
    #: The item cannot be checked as given: a raw signature without its certificate, a
    #: digest whose length does not fit the signature's hash, a CMS with a digest.
    UNUSABLE_INPUT = "unusable-input"


class BulkItem(NamedTuple):
    """One thing to verify (an immutable named tuple: it crosses to worker processes as it
    is).

    :ivar id: the caller's identifier (echoed in the result).
    :ivar signature: a raw PKCS#1 v1.5 signature (raw, base64 or ``jukicard sign --json``)
        or a CMS SignedData (DER or PEM).
    :ivar certificate: the signer certificate (DER or PEM); needed for a raw signature, a
        pin for a CMS.
    :ivar document: the signed document: its bytes, or a path to hash as a stream.
    :ivar digest: the document's hash instead of the document (raw signatures only).
    """

    id: str
    signature: bytes
    certificate: bytes | None = None
    document: bytes | str | os.PathLike[str] | None = None
    digest: bytes | None = None


class ItemResult(NamedTuple):
    """The outcome for one item (an immutable named tuple: millions are made, and a tuple
    is built in a third of a frozen dataclass's time).

    :ivar id: the item's id.
    :ivar valid: signature and certificate path valid.
    :ivar reason: ``"ok"``, a :class:`~jukicard.pki.reasons.Reason` value or a
        :class:`BulkReason` value.
    :ivar message: human-readable detail (no personal data).
    """

    id: str
    valid: bool
    reason: str
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """``{"id", "valid", "reason", "message"}``."""
        return {"id": self.id, "valid": self.valid, "reason": self.reason,
                "message": self.message}


class ItemProblem(Exception):
    """A per-item outcome that is not a :class:`ValidationError` (a :class:`BulkReason`)."""

    def __init__(self, reason: BulkReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def failed(item_id: str, error: ValidationError) -> ItemResult:
    """The result of a cached error (never re-raised: its traceback would grow)."""
    return ItemResult(item_id, False, str(error.reason), str(error))


#: Open flags of a document: never wait (a FIFO), never become a controlling tty.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0))


def _chunks(path: str | os.PathLike[str], what: str, limit: int | None = None
            ) -> Iterator[bytes]:
    """The regular file ``path`` in chunks (a FIFO or a device is refused unread).

    :param limit: most bytes read: a larger file is refused (its size is checked before
        reading, and a file that grows meanwhile is refused at the limit).
    :raises ItemProblem: ``unreadable-input``.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ItemProblem(BulkReason.UNREADABLE_INPUT,
                                  f"the {what} is not a regular file")
            too_big = ItemProblem(BulkReason.UNREADABLE_INPUT, f"the {what} is larger than "
                                  f"the {_size_text(limit)} limit for a {what}")
            if limit is not None and info.st_size > limit:
                raise too_big
            total = 0
            while block := os.read(fd, _CHUNK):
                total += len(block)
                if limit is not None and total > limit:
                    raise too_big
                yield block
        finally:
            os.close(fd)
    except OSError as exc:
        raise ItemProblem(BulkReason.UNREADABLE_INPUT,
                          f"the {what} file cannot be read ({exc.strerror or 'error'})") from exc


def _size_text(limit: int | None) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit and limit % mib == 0 else f"{limit} bytes"


def hash_document(document: bytes | str | os.PathLike[str], name: str) -> bytes:
    """The ``name`` hash (hashlib) of a document given as bytes or as a file, read as a
    stream.

    :raises ItemProblem: the file cannot be read (``unreadable-input``).
    """
    h = hashlib.new(name)
    if isinstance(document, bytes | bytearray | memoryview):
        h.update(document)
    else:
        for block in _chunks(document, "document"):
            h.update(block)
    return h.digest()


def read_content(document: bytes | str | os.PathLike[str]) -> bytes:
    """A CMS's content: the bytes given, or the file read whole up to
    :data:`MAX_CMS_CONTENT`.

    :raises ItemProblem: the file cannot be read or is larger than the cap
        (``unreadable-input``, naming the cap).
    """
    if isinstance(document, bytes):
        return document
    return b"".join(_chunks(document, "CMS content", MAX_CMS_CONTENT))
