"""The driver state of a bulk run, bounded however long the manifest is
(:mod:`jukicard.services.bulk`).

What a run keeps, and what guarantees what:

* the manifest lines already answered: :class:`LineSet`, one bit per line (a 100M-line
  manifest: 12.5 MB), exact;
* the counts by reason: a :class:`~collections.Counter` of the few reason codes;
* the ids seen so far, for ``duplicate-id``: :class:`SeenIds`, an SQLite table on disk
  whose primary key is the id itself (its UTF-8 bytes), so a line is called a duplicate
  only when an earlier line holds exactly the same id — no hash, no false positive, no
  miss.  SQLite keeps at most :data:`IDS_CACHE_KIB` of its pages in memory; the rest is on
  disk.  The database is scratch: created by each run in a private directory (mode 0700,
  beside the results file, else in the system's temporary directory), unlinked as soon as
  it is open (so even a killed run leaves nothing behind) and rebuilt by the next run,
  which streams the manifest from its first line again (the first line holding an id is
  the one verified, whatever was answered before);
* the results file is read for resume as a stream (:class:`ResultsFile`), never whole.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections import Counter
from typing import IO, Any

from jukicard.errors import UsageError
from jukicard.services.inputs import display_path

__all__ = ["LineSet", "SeenIds", "ResultsFile", "BATCH", "IDS_CACHE_KIB", "MAX_LINES"]

#: Pending results are written, flushed and fsynced once ``FSYNC_INTERVAL`` seconds have
#: passed since the last time a result was added after the previous fsync (an fsync costs
#: about a millisecond: 4 µs an item when it was done every 256), or once ``MAX_PENDING``
#: are pending, and always at the end.  A kill loses only results not yet written, which a
#: resume computes again (never a duplicate).
FSYNC_INTERVAL = 0.25
MAX_PENDING = 8192
#: Results per partition a worker answers (kept as a name for callers of version 1).
BATCH = 256
#: Largest manifest line number a results file may name (its bitmap: 512 MiB at most).
MAX_LINES = 2**32 - 1
#: Most memory SQLite's page cache takes for the ids seen (KiB).
IDS_CACHE_KIB = 16 * 1024


class LineSet:
    """A set of manifest line numbers (>= 0) as a bitmap: one bit per line up to the
    largest number added, whatever how many are in it."""

    __slots__ = ("_bits", "_count")

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, number: int) -> bool:
        """Add ``number``; ``True`` if it was not in the set."""
        byte, bit = number >> 3, 1 << (number & 7)
        if byte >= len(self._bits):  # grow geometrically: amortised O(1)
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        if self._bits[byte] & bit:
            return False
        self._bits[byte] |= bit
        self._count += 1
        return True

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, int) or number < 0:
            return False
        byte = number >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (number & 7)))

    def __len__(self) -> int:
        return self._count


class SeenIds:
    """The ids seen so far, exactly, in an SQLite database on disk (see the module
    docstring: scratch, private, unlinked once open).

    :param near: a directory for the database (the results file's); ``None`` or one where
        no directory can be made: the system's temporary directory.
    """

    def __init__(self, near: str | os.PathLike[str] | None = None) -> None:
        try:
            folder = tempfile.mkdtemp(prefix=".jukicard-ids-", dir=near)
        except OSError:
            folder = tempfile.mkdtemp(prefix="jukicard-ids-")
        path = os.path.join(folder, "ids.sqlite")
        try:
            db = sqlite3.connect(path, isolation_level=None)
            try:
                # scratch data: no journal, no sync; one connection holds it exclusively
                for pragma in ("journal_mode=OFF", "synchronous=OFF",
                               "locking_mode=EXCLUSIVE", f"cache_size=-{IDS_CACHE_KIB}"):
                    db.execute(f"PRAGMA {pragma}")
                db.execute("CREATE TABLE ids (id BLOB PRIMARY KEY) WITHOUT ROWID")
                db.execute("BEGIN")  # one transaction, never committed: the file is scratch
            except BaseException:
                db.close()
                raise
        finally:
            for remove in (lambda: os.unlink(path), lambda: os.rmdir(folder)):
                try:
                    remove()
                except OSError:
                    pass
        self._db: sqlite3.Connection | None = db

    def add(self, ident: str) -> bool:
        """Record ``ident``; ``True`` if no earlier call gave the same id."""
        assert self._db is not None, "closed"
        # surrogatepass: a JSON manifest may spell a lone surrogate; distinct ids stay
        # distinct bytes
        key = ident.encode("utf-8", "surrogatepass")
        return self._db.execute("INSERT OR IGNORE INTO ids VALUES (?)", (key,)).rowcount == 1

    def close(self) -> None:
        """Drop the database (its file is already unlinked)."""
        if self._db is not None:
            self._db.close()
            self._db = None


def line_hash(number: int, ident: str | None) -> int:
    """64 bits standing for "manifest line ``number`` has id ``ident``" (``None``: a line
    without a usable id); summed over the answered lines to check on resume that the
    manifest is the one the results were written for."""
    key = f"{number}\x00{'' if ident is None else 'i' + ident}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


class ResultsFile:
    """The results JSONL: read for resume (as a stream), appended in fsynced batches.

    :param path: the file (created if missing), for messages and when ``fd`` is not given.
    :param fd: the file already opened for reading and appending (``O_RDWR|O_APPEND``),
        e.g. after the CLI's checks of ``--out``; closed by :meth:`close`.
    :raises UsageError: a line before the last one is not a result object (the file is
        not a results file of ours: it is left alone); another run holds the file's lock
        (an exclusive ``flock`` for the life of the object).
    """

    def __init__(self, path: str | os.PathLike[str], *, fd: int | None = None) -> None:
        self.path = os.fspath(path)
        self.done = LineSet()
        #: sum (mod 2**64) of :func:`line_hash` over the answered lines read at open
        self.fingerprint = 0
        self.by_reason: Counter[str] = Counter()
        self._pending: list[str] = []
        self._synced = time.monotonic()
        if fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            try:  # one run per results file: a second one would interleave and re-answer
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"--out {display_path(self.path)} is being written by another "
                                 "bulk-verify run (wait for it, or give another file)") from None
            good_end = self._read(fd)
            if good_end != os.fstat(fd).st_size:
                os.ftruncate(fd, good_end)
            self._file: IO[str] = open(fd, "a", encoding="utf-8", closefd=True)  # noqa: SIM115
        except BaseException:
            os.close(fd)
            raise

    def _read(self, fd: int) -> int:
        """Read the answered lines; the offset after the last result line (a torn last
        line is cut off there)."""
        good_end = 0
        torn: int | None = None
        with open(os.dup(fd), "rb") as f:
            f.seek(0)
            for number, raw in enumerate(f, start=1):
                if torn is not None:
                    raise UsageError(f"--out {display_path(self.path)}: line {torn} is not a "
                                     "bulk-verify result (not resuming into it)")
                obj = _result_object(raw)
                if obj is None:
                    if raw.endswith(b"\n") or not _RESULT_START.startswith(
                            raw[:len(_RESULT_START)]):
                        # a complete line, or one that does not begin as ours: not a torn
                        # result (a user's one-line file is left alone)
                        raise UsageError(f"--out {display_path(self.path)}: line {number} is "
                                         "not a bulk-verify result (not resuming into it)")
                    torn = number  # a torn last line if nothing follows it
                    continue
                good_end += len(raw)
                if self.done.add(obj["line"]):
                    self.by_reason[obj["reason"]] += 1
                    ident = obj.get("id")
                    self.fingerprint = (self.fingerprint + line_hash(
                        obj["line"], ident if isinstance(ident, str) else None)) % (1 << 64)
        return good_end

    def add(self, result: dict[str, Any]) -> None:
        """Queue a result (written by :meth:`flush` once :data:`FSYNC_INTERVAL` has passed
        since the last one, or :data:`MAX_PENDING` are pending)."""
        # ASCII-only: an id may hold a lone surrogate ("\\udcff" in the manifest's JSON)
        self._pending.append(json.dumps(result) + "\n")
        self.done.add(result["line"])
        self.by_reason[result["reason"]] += 1
        if len(self._pending) >= MAX_PENDING or \
                time.monotonic() - self._synced >= FSYNC_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Write the queued results, flush and fsync."""
        if self._pending:
            self._file.write("".join(self._pending))
            self._pending.clear()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._synced = time.monotonic()

    def close(self) -> None:
        """Flush and close."""
        if self._file.closed:
            return
        try:
            self.flush()
        finally:
            self._file.close()


#: How every result line begins (``json.dumps`` of a result, ``id`` first): a torn last
#: line is a prefix of a result line, so it begins with (a prefix of) this.
_RESULT_START = b'{"id": '


def _result_object(raw: bytes) -> dict[str, Any] | None:
    if not raw.endswith(b"\n"):
        return None
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict) or type(obj.get("line")) is not int \
            or not 1 <= obj["line"] <= MAX_LINES or not isinstance(obj.get("reason"), str):
        return None
    return obj
