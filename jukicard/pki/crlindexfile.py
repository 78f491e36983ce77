"""The file format of a saved :class:`~jukicard.pki.crlindex.CrlIndex`, and the folder rule.

A file is ``MAGIC``, the header length (8 octets), the hex SHA-256 of the header and arrays
(64 octets), the JSON header (the index's facts, the CRL's SHA-256, where each array is) and
the arrays, each aligned to 64 octets, so :func:`read_index` memory-maps them without a copy.

The SHA-256 catches damage only (whoever can write the file can recompute it): a saved index
is as trusted as its folder.  :func:`folder_problem` says why a folder is not one to trust
(not a directory, not owned by the current user, group- or world-writable: the rule ssh
applies to its own folder); :class:`jukicard.pki.crl.Crl` then neither reads nor writes
indexes there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import stat
import tempfile
from typing import Any

import numpy as np

from jukicard.pki.errors import MalformedCrlError

__all__ = ["CrlIndexError", "MAGIC", "write_index", "read_index", "folder_problem"]

MAGIC = b"JUKICARD-CRL-INDEX-2\n"
_ALIGN = 64


class CrlIndexError(MalformedCrlError):
    """A saved index is damaged, tampered with, or made for another CRL."""


def folder_problem(folder: str | os.PathLike[str]) -> str | None:
    """Why the index folder ``folder`` is not trusted, or ``None`` when it is: it must be a
    directory (not a symlink) owned by the current user and not writable by group or others.

    :raises OSError: it cannot be examined (it does not exist...).
    """
    st = os.lstat(os.fspath(folder))
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None and st.st_uid != geteuid():
        return "not owned by the current user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by group or others"
    return None


def write_index(path: str | os.PathLike[str], arrays: dict[str, np.ndarray],
                meta: dict[str, Any]) -> None:
    """Write ``arrays`` and ``meta`` to ``path``: through a new file made with
    :func:`tempfile.mkstemp` in the same folder (``O_EXCL``: a planted file or symlink is
    never written through), renamed over ``path``.

    :raises OSError: the file cannot be written.
    """
    names = sorted(arrays)
    layout: dict[str, list[Any]] = {}
    off = 0
    for name in names:
        a = arrays[name]
        off = -(-off // _ALIGN) * _ALIGN
        layout[name] = [off, a.dtype.str, len(a)]
        off += a.nbytes
    head = json.dumps(dict(meta, arrays=layout), sort_keys=True).encode()
    body_start = -(-(len(MAGIC) + 8 + 64 + len(head)) // _ALIGN) * _ALIGN
    target = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(target) + ".", suffix=".tmp",
                               dir=os.path.dirname(target) or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            digest = hashlib.sha256(head)
            f.write(MAGIC + len(head).to_bytes(8, "big") + b"\0" * 64 + head)
            for name in names:
                pad = b"\0" * (body_start + layout[name][0] - f.tell())
                raw = np.ascontiguousarray(arrays[name]).tobytes()
                digest.update(pad)
                digest.update(raw)
                f.write(pad)
                f.write(raw)
            f.seek(len(MAGIC) + 8)
            f.write(digest.hexdigest().encode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_index(path: str | os.PathLike[str], crl_sha256: str
               ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Memory-map the arrays and read the header of an index file of the CRL ``crl_sha256``.

    :raises CrlIndexError: damaged, changed, or of another CRL.
    :raises OSError: the file cannot be read.
    """
    with open(os.fspath(path), "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        if mm[:len(MAGIC)] != MAGIC:
            raise CrlIndexError("not a CRL index file")
        hlen = int.from_bytes(mm[len(MAGIC):len(MAGIC) + 8], "big")
        stored = bytes(mm[len(MAGIC) + 8:len(MAGIC) + 72]).decode("ascii")
        h0 = len(MAGIC) + 72
        head = bytes(mm[h0:h0 + hlen])
        digest = hashlib.sha256(head)
        body_start = -(-(h0 + hlen) // _ALIGN) * _ALIGN
        digest.update(memoryview(mm)[h0 + hlen:])
        if digest.hexdigest() != stored:
            raise CrlIndexError("the CRL index file is damaged or was changed")
        meta = json.loads(head)
        if meta.get("crl_sha256") != crl_sha256.lower():
            raise CrlIndexError("the CRL index was made for another CRL")
        arrays = {}
        for name, (off, dtype, count) in meta["arrays"].items():
            arrays[name] = np.frombuffer(mm, dtype=np.dtype(dtype), count=count,
                                         offset=body_start + off)
    except CrlIndexError:
        raise
    except Exception as exc:
        raise CrlIndexError("the CRL index file does not parse") from exc
    return arrays, meta
