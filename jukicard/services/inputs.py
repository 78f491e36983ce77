"""Reading input files with a size limit, and hashing documents as a stream.

Every input file is opened without blocking (``O_NONBLOCK``: a FIFO cannot hang the
command waiting for a writer) and must be a regular file (or a link to one): a FIFO, a
device (``/dev/zero``), a socket or a directory is refused with an :class:`InputError`
naming the option and the path (exit status 2 in the CLI).  Standard input is read only
where a command documents ``-`` for it (``sign -``), never through these functions.

Certificates, CRLs and signatures are read whole, so each kind has a documented cap: a
wrong path (a disk image) fails with a clear error naming the option and the file instead
of growing the process to gigabytes.  Documents are never read whole: they are hashed chunk
by chunk (:func:`hash_file`, :func:`open_input`).

=====================  =========================  ============================================
what                   limit                      inputs
=====================  =========================  ============================================
certificate            :data:`MAX_CERTIFICATE`    ``CERT``, ``--anchor``, ``--intermediate``,
                       (1 MiB)                    ``--cert`` (a PEM file may hold several),
                                                  ``--issuer-key`` (:func:`load_issuer_key`)
CRL                    :data:`MAX_CRL` (512 MiB)  ``--crl`` files (the size the CRL fetcher
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
from typing import TYPE_CHECKING, BinaryIO

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
    "open_input",
    "read_input",
    "hash_file",
    "load_issuer_key",
]

_KIB = 1024
_MIB = 1024 * 1024

#: Largest certificate file (DER or a PEM bundle) read.
MAX_CERTIFICATE = 1 * _MIB
#: Largest CRL file read (equal to the CRL fetcher's download limit).
MAX_CRL = 512 * _MIB
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


#: Open flags of every input file: never wait (a FIFO), never become a controlling tty.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0))


@contextlib.contextmanager
def _opened(path: str | os.PathLike[str], option: str, what: str) -> Iterator[tuple[int, int]]:
    """``(fd, size)`` of the regular file ``path``, opened for reading without blocking;
    read errors become usage errors naming ``option`` and the file; a directory, a FIFO, a
    device or a socket is refused before anything is read."""
    def failed(exc: OSError) -> InputError:
        return InputError(
            f"{option}: cannot read {what} {display_path(path)}: {exc.strerror or exc}",
            option=option, path=path)

    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise failed(exc) from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{option}: {display_path(path)} is a directory, not a {what}",
                             option=option, path=path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{option}: {display_path(path)} is not a regular file (a FIFO, "
                             f"a device or a socket): give the {what} as a file",
                             option=option, path=path)
        yield fd, info.st_size
    except OSError as exc:
        raise failed(exc) from exc
    finally:
        os.close(fd)


def read_input(path: str | os.PathLike[str], *, option: str, what: str, limit: int) -> bytes:
    """Read a whole input file, refusing one larger than ``limit`` bytes.

    The file's size is checked before reading, and no more than ``limit + 1`` bytes are
    read (a file that grows meanwhile is refused too).

    :param option: the option (or argument) the file came from, for messages (``--crl``).
    :param what: what the file should hold, for messages (``"CRL"``).
    :raises InputError: the file cannot be read, is not a regular file (a FIFO, a device:
        refused without waiting), or is larger than ``limit``.
    """
    too_big = InputError(f"{option}: {what} {display_path(path)} is larger than the "
                         f"{_size_text(limit)} limit for a {what}", option=option, path=path)
    with _opened(path, option, what) as (fd, size):
        if size > limit:
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
    :raises UsageError: the file cannot be read or is not a regular file, or the hash is
        unknown.
    """
    try:
        h = hashlib.new(hash_name)
    except ValueError as exc:
        raise UsageError(f"unknown hash algorithm {hash_name!r}") from exc
    with _opened(path, option, what) as (fd, _size):
        while chunk := os.read(fd, _CHUNK):
            h.update(chunk)
    return h.digest()


@contextlib.contextmanager
def open_input(path: str | os.PathLike[str], *, option: str, what: str = "document"
               ) -> Iterator[BinaryIO]:
    """The regular file ``path`` as a binary stream, opened like every input (without
    blocking; a FIFO, a device or a directory is refused before anything is read), for a
    caller that reads it as a stream (``hash_stream``).

    :param option: the option (or argument) the file came from, for messages (``FILE``).
    :raises InputError: the file cannot be opened or is not a regular file.
    """
    with _opened(path, option, what) as (fd, _size):
        with os.fdopen(os.dup(fd), "rb") as stream:
            yield stream


def load_issuer_key(path: str, option: str = "--issuer-key") -> RSAPublicKey:
    """The trusted CV-certificate issuer key (J-LIS, or the test issuer) from a file: a CV
    certificate (``7F 21``, e.g. ``vectors/pki/cv/jlis-root.cvc``; its certified key) or a
    PEM RSA public key.

    :param option: the option the file came from, for messages.
    :raises InputError: unreadable, not a regular file, larger than 1 MiB, neither form, or
        a PEM public key that is not RSA (of any algorithm, known or not).
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from jukicard.card.cvc import CvCertificate

    data = read_input(path, option=option, what="issuer key", limit=MAX_CERTIFICATE)
    problem = (f"{option} {display_path(path)} holds neither a CV certificate nor a PEM RSA "
               "public key")
    not_rsa = InputError(f"{option} {display_path(path)}: not an RSA public key",
                         option=option, path=path)
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = load_pem_public_key(data)
        except UnsupportedAlgorithm:  # a key of an algorithm cryptography does not know
            raise InputError(f"{option} {display_path(path)}: a public key of an unsupported "
                             "algorithm, not an RSA public key", option=option,
                             path=path) from None
        except (ValueError, TypeError):
            raise InputError(problem, option=option, path=path) from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise not_rsa
        return key
    try:
        return CvCertificate.parse(data).public_key()
    except BadResponse:
        raise InputError(problem, option=option, path=path) from None
