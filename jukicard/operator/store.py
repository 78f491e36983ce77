"""The default vein template store: one SQLite file, every record sealed under its own key.

:class:`SqliteTemplateStore` implements :class:`~jukicard.operator.api.TemplateStore`:

* **Storage**: a SQLite file (created on first use, mode 0600), schema version in
  ``PRAGMA user_version`` (:data:`SCHEMA_VERSION`) and the file marked as ours with
  ``PRAGMA application_id``; a file of another version or application is refused, never
  migrated in place.  Every change is one transaction (nothing half-written after a crash);
  ``secure_delete`` is on, so freed pages are zeroed.
* **Sealing**: each record's template bytes are encrypted with AES-256-GCM under a fresh
  data key; the data key is wrapped (AES key wrap, RFC 3394) under a KEK from a
  :class:`~jukicard.operator.kek.KeyProvider`.  The associated data binds the reference to
  its identity (ISO/IEC 24745): operator id, record id, finger, matcher id, template format
  and creation time — a record moved to another operator, finger or format does not open.
* **Load**: every record is checked when read; one that fails is logged (record id only),
  left out — it counts as no reference — and when all of an operator's records fail,
  :class:`~jukicard.errors.TemplateIntegrityError` is raised.
* **Revocation** destroys the wrapped data key and the ciphertext (crypto-shredding) and
  keeps a tombstone: who approved it, why, when.  Run :meth:`rotate_keys` afterwards for the
  full effect: it retires the KEK, so no copy of the file made earlier opens the record.
* **Rollback** (someone who may write the store file but not the key file puts back an
  older copy of a row or of the whole file) cannot be told from the current state: the
  associated data binds a record to its identity, not to a time, and no counter lives
  outside the file.  What the key file does bound: a revoked row put back opens only until
  the next rotation (``jukicard operator vein revoke`` rotates at once), and a copy older
  than the last rotation opens nothing (its KEKs are retired: integrity errors, never a
  match).  What stays possible: hiding later enrolments, and hiding tombstones (the audit
  trail must keep revocations too).
* **Rotation** (:meth:`rotate_keys`) makes a new KEK current and re-wraps every data key
  under it in one transaction, then retires every other KEK (those only revoked records
  used too: an older copy of a revoked row — a backup, a rolled-back file — never opens).

The store holds only the matcher's :class:`~jukicard.operator.api.Template` bytes (already
the protected transform), never an image.  No template or key byte appears in a log line,
exception message or ``repr``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from jukicard.errors import (
    TemplateIntegrityError,
    TemplateNotFound,
    TemplateStoreError,
    UsageError,
)
from jukicard.operator.api import Template, TemplateFormat, TemplateRecord
from jukicard.operator.kek import KeyProvider

__all__ = ["SCHEMA_VERSION", "APPLICATION_ID", "RECORD_PREFIX", "RecordInfo",
           "SqliteTemplateStore", "record_aad"]

log = logging.getLogger("jukicard.operator.store")

#: The schema this code reads and writes (``PRAGMA user_version``).
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of a jukicard vein store ("JKVT").
APPLICATION_ID = 0x4A4B5654
#: Record ids start with this (operator ids may not, so ``revoke`` can tell them apart).
RECORD_PREFIX = "rec-"
_AAD_LABEL = b"jukicard-vein-template/1"
_ID = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_REASON = re.compile(r"[^\x00-\x1f\x7f]{1,200}")

_SCHEMA = """
CREATE TABLE template (
    record_id      TEXT PRIMARY KEY,
    operator_id    TEXT NOT NULL,
    finger_id      INTEGER NOT NULL,
    matcher_id     TEXT NOT NULL,
    format_owner   TEXT NOT NULL,
    format_type    TEXT NOT NULL,
    format_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    approved_by    TEXT NOT NULL,
    kek_id         TEXT,
    wrapped_key    BLOB,
    nonce          BLOB,
    ciphertext     BLOB,
    revoked_at     TEXT,
    revoked_by     TEXT,
    revoke_reason  TEXT,
    CHECK ((revoked_at IS NULL) = (wrapped_key IS NOT NULL))
);
CREATE UNIQUE INDEX template_active_finger ON template (operator_id, finger_id)
    WHERE revoked_at IS NULL;
CREATE INDEX template_operator ON template (operator_id);
"""
_COLUMNS = ("record_id, operator_id, finger_id, matcher_id, format_owner, format_type, "
            "format_version, created_at, approved_by, kek_id, wrapped_key, nonce, ciphertext")


def record_aad(operator_id: str, record_id: str, finger_id: int, matcher_id: str,
               template_format: TemplateFormat, created_at: str) -> bytes:
    """The associated data that binds a sealed template to its identity (each field
    length-prefixed, so no two identities encode alike)."""
    fields = (operator_id, record_id, str(finger_id), matcher_id, str(template_format),
              created_at)
    out = bytearray(_AAD_LABEL)
    for value in fields:
        raw = value.encode("utf-8")
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out)


@dataclass(frozen=True)
class RecordInfo:
    """One row as :meth:`SqliteTemplateStore.inventory` lists it (no key or template
    bytes): the tombstone fields are set once revoked."""

    record_id: str
    operator_id: str
    finger_id: int
    matcher_id: str
    template_format: str
    created_at: str
    approved_by: str
    kek_id: str | None
    revoked_at: str | None
    revoked_by: str | None
    revoke_reason: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> dict[str, object]:
        return {"record_id": self.record_id, "operator_id": self.operator_id,
                "finger_id": self.finger_id, "matcher_id": self.matcher_id,
                "template_format": self.template_format, "created_at": self.created_at,
                "approved_by": self.approved_by, "revoked": self.revoked,
                "revoked_at": self.revoked_at, "revoked_by": self.revoked_by,
                "revoke_reason": self.revoke_reason}


def _check(what: str, value: object, pattern: re.Pattern[str] = _ID) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise UsageError(f"{what} must be 1-{64 if pattern is _ID else 200} printable "
                         "characters")
    return value


class SqliteTemplateStore:
    """The template store in one SQLite file.

    :param path: the database file (created on first use, mode 0600).
    :param keys: where the KEKs come from (default provider:
        :class:`~jukicard.operator.kek.KeyFile`).
    """

    def __init__(self, path: str | Path, keys: KeyProvider) -> None:
        self.path = Path(path)
        self._keys = keys

    def __repr__(self) -> str:
        return f"SqliteTemplateStore({str(self.path)!r})"

    # ------------------------------------------------------------------ connection
    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise TemplateStoreError(f"template store {self.path}: cannot be created "
                                         f"({exc.strerror})") from None
        try:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise TemplateStoreError(f"template store {self.path}: cannot be opened "
                                     f"({exc})") from None
        try:
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA synchronous = FULL")
            self._check_schema(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise TemplateStoreError(f"template store {self.path}: not a usable SQLite "
                                     f"file ({exc})") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and app == 0 and tables == 0:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)  # inside our BEGIN (executescript would commit)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif app != APPLICATION_ID:
                raise TemplateStoreError(f"template store {self.path}: not a jukicard vein "
                                         "template store")
            elif version != SCHEMA_VERSION:
                raise TemplateStoreError(
                    f"template store {self.path}: schema version {version} is not the one "
                    f"this jukicard knows ({SCHEMA_VERSION}); refused")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back on any error
        (or never committed if the process dies inside it)."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise TemplateStoreError(f"template store {self.path}: {exc}") from None
        finally:
            conn.close()

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query (a damaged or altered file is a typed error)."""
        conn = self._connect()
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise TemplateStoreError(f"template store {self.path}: {exc}") from None
        finally:
            conn.close()

    # ------------------------------------------------------------------ sealing
    def _open(self, row: tuple[Any, ...]) -> TemplateRecord:
        (record_id, operator_id, finger_id, matcher_id, owner, ftype, fversion, created_at,
         approved_by, kek_id, wrapped, nonce, ciphertext) = row
        try:
            if not isinstance(finger_id, int) or not isinstance(fversion, int) \
                    or not isinstance(wrapped, bytes) or not isinstance(nonce, bytes) \
                    or not isinstance(ciphertext, bytes):
                raise ValueError("a column of the wrong type, or missing")
            fmt = TemplateFormat(str(owner), str(ftype), fversion)
            aad = record_aad(str(operator_id), str(record_id), finger_id, str(matcher_id),
                             fmt, str(created_at))
            try:
                kek = self._keys.get(str(kek_id))
            except TemplateStoreError:  # retired (an older copy of the row) or foreign
                raise ValueError("its key-encryption key is not in the key file") from None
            dek = aes_key_unwrap(kek, wrapped)
            data = AESGCM(dek).decrypt(nonce, ciphertext, aad)
            created = datetime.fromisoformat(str(created_at))
        except (InvalidUnwrap, InvalidTag, ValueError) as exc:
            log.debug("template record %s: %s", record_id,
                      exc if isinstance(exc, ValueError) else type(exc).__name__)
            raise TemplateIntegrityError(f"template record {record_id} failed its integrity "
                                         "check") from None
        return TemplateRecord(str(record_id), str(operator_id), finger_id,
                              str(matcher_id), Template(fmt, data), created, str(approved_by))

    # ------------------------------------------------------------------ TemplateStore
    def enrol(self, operator_id: str, finger_id: int, matcher_id: str, template: Template,
              approved_by: str) -> TemplateRecord:
        """Seal and store a new reference for ``(operator_id, finger_id)``.

        :raises UsageError: a malformed id, or ``template`` is not a :class:`Template` of
            bytes.
        :raises TemplateStoreError: that finger already has an active reference (revoke it
            first), or the store cannot be written.
        """
        _check("operator id", operator_id)
        if operator_id.startswith(RECORD_PREFIX):
            raise UsageError(f"operator id may not start with {RECORD_PREFIX!r}")
        _check("approved-by", approved_by)
        _check("matcher id", matcher_id)
        if not isinstance(finger_id, int) or isinstance(finger_id, bool) \
                or not 0 <= finger_id <= 10:
            raise UsageError("finger id must be 0-10 (ISO/IEC 39794 finger positions)")
        if not isinstance(template, Template) or not isinstance(template.data, bytes):
            raise UsageError("only a matcher's Template (bytes) can be stored")
        record_id = RECORD_PREFIX + secrets.token_hex(16)
        created = datetime.now(UTC).isoformat(timespec="microseconds")
        dek = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(12)
        aad = record_aad(operator_id, record_id, finger_id, matcher_id, template.format,
                         created)
        sealed = AESGCM(dek).encrypt(nonce, template.data, aad)
        fmt = template.format
        with self._transaction() as conn:
            # the current KEK under the write lock: a rotation cannot retire it meanwhile
            kek_id, kek = self._keys.current()
            wrapped = aes_key_wrap(kek, dek)
            try:
                conn.execute(f"INSERT INTO template ({_COLUMNS}) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (record_id, operator_id, finger_id, matcher_id, fmt.owner,
                              fmt.type, fmt.version, created, approved_by, kek_id, wrapped,
                              nonce, sealed))
            except sqlite3.IntegrityError:
                raise TemplateStoreError(
                    f"finger {finger_id} of that operator already has an active reference: "
                    "revoke it first") from None
        log.info("enrolled template record %s (finger %d, matcher %s, format %s)",
                 record_id, finger_id, matcher_id, fmt)
        return TemplateRecord(record_id, operator_id, finger_id, matcher_id, template,
                              datetime.fromisoformat(created), approved_by)

    def get(self, operator_id: str) -> list[TemplateRecord]:
        """The operator's active references that pass their integrity check (``[]`` when
        none is enrolled).

        :raises TemplateIntegrityError: the operator has references and none passes.
        """
        rows = self._read(f"SELECT {_COLUMNS} FROM template WHERE operator_id = ? "
                          "AND revoked_at IS NULL ORDER BY finger_id, created_at",
                          (operator_id,))
        good: list[TemplateRecord] = []
        failed: list[str] = []
        for row in rows:
            try:
                good.append(self._open(row))
            except TemplateIntegrityError:
                failed.append(str(row[0]))
                log.warning("template record %s failed its integrity check: counted as no "
                            "reference", row[0])
        if failed and not good:
            raise TemplateIntegrityError(
                f"every reference of that operator failed its integrity check "
                f"({len(failed)} record(s): {', '.join(failed)}); it counts as no reference")
        return good

    def revoke(self, record_or_operator_id: str, approved_by: str, reason: str) -> int:
        """Revoke one record (a ``rec-`` id) or every active record of an operator:
        destroy the wrapped data key and the ciphertext, keep a tombstone.

        :returns: how many records were revoked.
        :raises TemplateNotFound: nothing active matched.
        """
        _check("approved-by", approved_by)
        _check("reason", reason, _REASON)
        column = "record_id" if record_or_operator_id.startswith(RECORD_PREFIX) \
            else "operator_id"
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        with self._transaction() as conn:
            count = conn.execute(
                "UPDATE template SET wrapped_key = NULL, nonce = NULL, ciphertext = NULL, "
                "kek_id = NULL, revoked_at = ?, revoked_by = ?, revoke_reason = ? "
                f"WHERE {column} = ? AND revoked_at IS NULL",
                (now, approved_by, reason, record_or_operator_id)).rowcount
        if count == 0:
            raise TemplateNotFound(f"no active reference for that {column.replace('_', ' ')}")
        log.info("revoked %d template record(s) by %s", count, column.replace("_", " "))
        return count

    def rotate_keys(self) -> int:
        """Make a new KEK current and re-wrap every active data key under it, all in one
        transaction; then retire every other KEK (also one only revoked records used).

        :returns: how many data keys were re-wrapped.
        :raises TemplateIntegrityError: a wrapped key does not unwrap (nothing changed:
            revoke that record first).
        """
        with self._transaction() as conn:  # the write lock first: one rotation at a time
            new_id = self._keys.new_key()
            new_kek = self._keys.get(new_id)
            rows = conn.execute("SELECT record_id, kek_id, wrapped_key FROM template WHERE "
                                "revoked_at IS NULL AND kek_id != ?", (new_id,)).fetchall()
            for record_id, kek_id, wrapped in rows:
                try:
                    old_kek = self._keys.get(str(kek_id))
                except TemplateStoreError:
                    raise TemplateIntegrityError(
                        f"template record {record_id}: its key-encryption key is not in the "
                        "key file; revoke it before rotating keys") from None
                rewrapped = _rewrap(old_kek, new_kek, wrapped, record_id)
                conn.execute("UPDATE template SET kek_id = ?, wrapped_key = ? "
                             "WHERE record_id = ?", (new_id, rewrapped, record_id))
        # Every other KEK goes, also those only revoked records used: an older copy of a
        # revoked row (a backup, a rolled-back file) must not open again.
        self._keys.retire(set(self._keys.key_ids()) - {new_id})
        log.info("re-wrapped %d data key(s) under a new key-encryption key", len(rows))
        return len(rows)

    def inventory(self) -> list[RecordInfo]:
        """Every record, active and revoked (tombstones), without key or template bytes."""
        rows = self._read(
            "SELECT record_id, operator_id, finger_id, matcher_id, format_owner, "
            "format_type, format_version, created_at, approved_by, kek_id, revoked_at, "
            "revoked_by, revoke_reason FROM template ORDER BY operator_id, finger_id, "
            "created_at")
        return [RecordInfo(r[0], r[1], r[2], r[3], str(TemplateFormat(r[4], r[5], r[6])),
                           r[7], r[8], r[9], r[10], r[11], r[12]) for r in rows]

    def list(self) -> list[tuple[str, str, int, bool]]:
        """``(record_id, operator_id, finger_id, revoked)`` for every record."""
        return [(r.record_id, r.operator_id, r.finger_id, r.revoked)
                for r in self.inventory()]


def _rewrap(old_kek: bytes, new_kek: bytes, wrapped: bytes, record_id: str) -> bytes:
    """One data key from ``old_kek`` to ``new_kek`` (a seam the crash tests interrupt)."""
    try:
        return aes_key_wrap(new_kek, aes_key_unwrap(old_kek, wrapped))
    except (InvalidUnwrap, ValueError):
        raise TemplateIntegrityError(f"template record {record_id}: its data key does not "
                                     "unwrap; revoke it before rotating keys") from None
