"""Reading input files with a size limit, and hashing documents as a stream.

Certificates, CRLs and signatures are read whole, so each kind has a documented cap: a
wrong path (``/dev/zero``, a disk image) fails with a clear error naming the option and the
file instead of growing the process to gigabytes.  Documents are never read whole: they are
hashed chunk by chunk (:func:`hash_file`).

=====================  =========================  ============================================
what                   limit                      inputs
=====================  =========================  ============================================
certificate            :data:`MAX_CERTIFICATE`    ``CERT``, ``--anchor``, ``--intermediate``,
                       (1 MiB)                    ``--cert`` (a PEM file may hold several),
                                                  ``--issuer-key`` (:func:`load_issuer_key`)
CRL                    :data:`MAX_CRL` (256 MiB)  ``--crl`` files (the size the CRL fetcher
                                                  accepts for a download)
signature              :data:`MAX_SIGNATURE`      ``SIG``: a raw, base64 or JSON signature, or
                       (64 MiB)                   a CMS (which may carry its content)
digest / raw block     :data:`MAX_BLOCK` (64 KiB) ``FILE`` with ``--digest`` / ``--raw``
CMS content            :data:`MAX_CMS_CONTENT`    ``FILE`` of a CMS (the CMS verifier takes
                       (256 MiB)                  the content as bytes)
=====================  =========================  ============================================
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING

from jukicard.errors import BadResponse, UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = [
    "InputError",
    "MAX_CERTIFICATE",
    "MAX_CRL",
    "MAX_SIGNATURE",
    "MAX_BLOCK",
    "MAX_CMS_CONTENT",
    "display_path",
    "read_input",
    "hash_file",
    "load_issuer_key",
]

_KIB = 1024
_MIB = 1024 * 1024

#: Largest certificate file (DER or a PEM bundle) read.
MAX_CERTIFICATE = 1 * _MIB
#: Largest CRL file read (equal to the CRL fetcher's download limit).
MAX_CRL = 256 * _MIB
#: Largest signature file read (a CMS with attached content included).
MAX_SIGNATURE = 64 * _MIB
#: Largest digest or raw signed block read (``--digest`` / ``--raw``).
MAX_BLOCK = 64 * _KIB
#: Largest detached CMS content read.
MAX_CMS_CONTENT = 256 * _MIB

_CHUNK = 1 << 16


class InputError(UsageError):
    """A file or value given for an option is wrong (missing, unreadable, too large, or not
    what the option needs): the operator's mistake, exit status 2.

    The CLI's error JSON carries :attr:`option` and :attr:`path`.

    :ivar option: the option or argument (``--anchor``, ``--crl``, ``--profile``, ``CERT``…).
    :ivar path: the file (or URL) as given, ``None`` when the value is not a file.
    """

    def __init__(self, message: str, *, option: str, path: str | os.PathLike[str] | None
                 = None) -> None:
        super().__init__(message)
        self.option = option
        self.path = None if path is None else os.fspath(path)


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` quoted for a message, always printable ASCII-safe text.

    A file name with bytes that are not UTF-8 arrives as surrogate escapes; ``repr`` shows
    them as ``\\udcNN``, so no message (nor the JSON built from it) is invalid text.
    """
    return repr(os.fspath(path))


def _size_text(limit: int) -> str:
    if limit % _MIB == 0:
        return f"{limit // _MIB} MiB"
    if limit % _KIB == 0:
        return f"{limit // _KIB} KiB"
    return f"{limit} bytes"


@contextlib.contextmanager
def _opened(path: str | os.PathLike[str], option: str, what: str) -> Iterator[tuple[int, int]]:
    """``(fd, st_mode)`` of ``path`` opened for reading; read errors become usage errors
    naming ``option`` and the file, a directory is refused."""
    def failed(exc: OSError) -> InputError:
        return InputError(
            f"{option}: cannot read {what} {display_path(path)}: {exc.strerror or exc}",
            option=option, path=path)

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise failed(exc) from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{option}: {display_path(path)} is a directory, not a {what}",
                             option=option, path=path)
        yield fd, mode
    except OSError as exc:
        raise failed(exc) from exc
    finally:
        os.close(fd)


def read_input(path: str | os.PathLike[str], *, option: str, what: str, limit: int) -> bytes:
    """Read a whole input file, refusing one larger than ``limit`` bytes.

    A regular file's size is checked before reading; anything else (a device, a FIFO) is
    read up to ``limit + 1`` bytes at most.

    :param option: the option (or argument) the file came from, for messages (``--crl``).
    :param what: what the file should hold, for messages (``"CRL"``).
    :raises InputError: the file cannot be read, or is larger than ``limit``.
    """
    too_big = InputError(f"{option}: {what} {display_path(path)} is larger than the "
                         f"{_size_text(limit)} limit for a {what}", option=option, path=path)
    with _opened(path, option, what) as (fd, mode):
        if stat.S_ISREG(mode) and os.fstat(fd).st_size > limit:
            raise too_big
        parts: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
    if total > limit:
        raise too_big
    return b"".join(parts)


def hash_file(path: str | os.PathLike[str], hash_name: str, *, option: str,
              what: str = "document") -> bytes:
    """Hash a file as a stream (any size, never held in memory whole).

    :param hash_name: a :mod:`hashlib` name (``"sha256"``...).
    :raises UsageError: the file cannot be read, or the hash is unknown.
    """
    try:
        h = hashlib.new(hash_name)
    except ValueError as exc:
        raise UsageError(f"unknown hash algorithm {hash_name!r}") from exc
    with _opened(path, option, what) as (fd, _mode):
        while chunk := os.read(fd, _CHUNK):
            h.update(chunk)
    return h.digest()


def load_issuer_key(path: str, option: str = "--issuer-key") -> RSAPublicKey:
    """The trusted CV-certificate issuer key (J-LIS, or the test issuer) from a file: a CV
    certificate (``7F 21``, e.g. ``vectors/pki/cv/jlis-root.cvc``; its certified key) or a
    PEM RSA public key.

    :param option: the option the file came from, for messages.
    :raises InputError: unreadable, larger than 1 MiB, or neither form.
    """
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from jukicard.card.cvc import CvCertificate

    data = read_input(path, option=option, what="issuer key", limit=MAX_CERTIFICATE)
    problem = (f"{option} {display_path(path)} holds neither a CV certificate nor a PEM RSA "
               "public key")
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = load_pem_public_key(data)
        except (ValueError, TypeError):
            raise InputError(problem, option=option, path=path) from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise InputError(f"{option} {display_path(path)}: not an RSA public key",
                             option=option, path=path)
        return key
    try:
        return CvCertificate.parse(data).public_key()
    except BadResponse:
        raise InputError(problem, option=option, path=path) from None
