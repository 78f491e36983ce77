"""The SQLite template store (issue 12): sealed per record, identity bound, integrity checked,
crypto-shredded on revocation, keys rotated atomically, schema versioned."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jukicard.errors import (
    TemplateIntegrityError,
    TemplateNotFound,
    TemplateStoreError,
    UsageError,
)
from jukicard.operator import Template, TemplateFormat, TemplateStore
from jukicard.operator.kek import KeyFile, KeyProvider
from jukicard.operator.store import APPLICATION_ID, SqliteTemplateStore

ROOT = Path(__file__).resolve().parents[2]
FMT = TemplateFormat("jukicard-test", "standin", 1)
MARK = b"VEINSECRET-TEMPLATE-"
TIMEOUT = 120  # hang guard, not a timed assertion


def _tpl(tag: str) -> Template:
    return Template(FMT, MARK + tag.encode())


@pytest.fixture
def keys(tmp_path: Path) -> KeyFile:
    return KeyFile.create(tmp_path / "vein.key")


@pytest.fixture
def store(tmp_path: Path, keys: KeyFile) -> SqliteTemplateStore:
    return SqliteTemplateStore(tmp_path / "vein.sqlite", keys)


def _raw(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_protocols_are_met(store: SqliteTemplateStore, keys: KeyFile) -> None:
    assert isinstance(store, TemplateStore) and isinstance(keys, KeyProvider)


def test_round_trip_several_fingers(store: SqliteTemplateStore, tmp_path: Path) -> None:
    r1 = store.enrol("op-1", 2, "fake-standin", _tpl("a"), "admin-1")
    r2 = store.enrol("op-1", 7, "fake-standin", _tpl("b"), "admin-1")
    store.enrol("op-2", 2, "fake-standin", _tpl("c"), "admin-2")
    got = store.get("op-1")
    assert [(r.record_id, r.finger_id, r.template) for r in got] == [
        (r1.record_id, 2, _tpl("a")), (r2.record_id, 7, _tpl("b"))]
    assert got[0].created_at == r1.created_at and got[0].approved_by == "admin-1"
    # a second store object on the same file (another process) reads the same
    again = SqliteTemplateStore(store.path, KeyFile(tmp_path / "vein.key"))
    assert [r.template for r in again.get("op-2")] == [_tpl("c")]
    assert store.get("nobody") == []
    assert sorted(store.list()) == sorted([(r1.record_id, "op-1", 2, False),
                                           (r2.record_id, "op-1", 7, False),
                                           (again.get("op-2")[0].record_id, "op-2", 2, False)])


def test_files_are_created_owner_only(store: SqliteTemplateStore, tmp_path: Path) -> None:
    assert not store.path.exists()
    store.list()  # first use creates it
    for path in (store.path, tmp_path / "vein.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert _raw(store.path, "PRAGMA user_version") == [(1,)]
    assert _raw(store.path, "PRAGMA application_id") == [(APPLICATION_ID,)]


def test_nothing_readable_at_rest(store: SqliteTemplateStore) -> None:
    store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    assert MARK not in store.path.read_bytes()


def test_one_finger_one_active_reference(store: SqliteTemplateStore) -> None:
    store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    with pytest.raises(TemplateStoreError, match="already has an active reference"):
        store.enrol("op-1", 1, "fake-standin", _tpl("b"), "admin")
    store.revoke("op-1", "admin", "re-enrol")
    store.enrol("op-1", 1, "fake-standin", _tpl("b"), "admin")
    assert [r.template for r in store.get("op-1")] == [_tpl("b")]


@pytest.mark.parametrize("column", ["ciphertext", "nonce", "wrapped_key"])
def test_one_byte_changed_is_an_integrity_error(store: SqliteTemplateStore,
                                                column: str) -> None:
    rec = store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    (blob,), = _raw(store.path, f"SELECT {column} FROM template")
    assert isinstance(blob, bytes)
    changed = blob[:3] + bytes([blob[3] ^ 0x01]) + blob[4:]
    _raw(store.path, f"UPDATE template SET {column} = ?", changed)
    with pytest.raises(TemplateIntegrityError) as info:
        store.get("op-1")
    assert rec.record_id in str(info.value)


@pytest.mark.parametrize(("column", "value"), [
    ("operator_id", "op-2"), ("finger_id", 3), ("matcher_id", "other"),
    ("format_version", 2), ("created_at", "2020-01-01T00:00:00.000000+00:00")])
def test_identity_fields_are_bound(store: SqliteTemplateStore, column: str,
                                   value: object) -> None:
    """Changing a plaintext identity column breaks the seal (AAD)."""
    store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    _raw(store.path, f"UPDATE template SET {column} = ?", value)
    with pytest.raises(TemplateIntegrityError):
        store.get("op-1" if column != "operator_id" else "op-2")


def test_records_swapped_between_operators_do_not_open(store: SqliteTemplateStore) -> None:
    """An attacker with write access swaps op-1's sealed template into op-2's row."""
    store.enrol("op-1", 1, "fake-standin", _tpl("victim"), "admin")
    store.enrol("op-2", 1, "fake-standin", _tpl("attacker"), "admin")
    rows = dict(_raw(store.path, "SELECT operator_id, record_id FROM template"))
    for column in ("kek_id", "wrapped_key", "nonce", "ciphertext"):
        _raw(store.path, f"UPDATE template SET {column} = (SELECT {column} FROM template "
             "WHERE record_id = ?) WHERE record_id = ?", rows["op-2"], rows["op-1"])
    with pytest.raises(TemplateIntegrityError):
        store.get("op-1")


def test_a_failing_record_counts_as_no_reference(store: SqliteTemplateStore,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    good = store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    bad = store.enrol("op-1", 2, "fake-standin", _tpl("b"), "admin")
    _raw(store.path, "UPDATE template SET ciphertext = zeroblob(40) WHERE record_id = ?",
         bad.record_id)
    with caplog.at_level(logging.WARNING, logger="jukicard.operator.store"):
        got = store.get("op-1")
    assert [r.record_id for r in got] == [good.record_id]
    assert bad.record_id in caplog.text


def test_revoke_shreds_and_keeps_a_tombstone(store: SqliteTemplateStore) -> None:
    rec = store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    store.enrol("op-1", 2, "fake-standin", _tpl("b"), "admin")
    (sealed, wrapped), = _raw(store.path, "SELECT ciphertext, wrapped_key FROM template "
                              "WHERE record_id = ?", rec.record_id)
    assert store.revoke(rec.record_id, "admin-2", "finger injured") == 1
    assert [r.finger_id for r in store.get("op-1")] == [2]
    raw = store.path.read_bytes()
    assert isinstance(sealed, bytes) and isinstance(wrapped, bytes)
    assert sealed not in raw and wrapped not in raw  # secure_delete: really gone
    tomb, = [r for r in store.inventory() if r.record_id == rec.record_id]
    assert (tomb.revoked, tomb.revoked_by, tomb.revoke_reason, tomb.kek_id) == (
        True, "admin-2", "finger injured", None)
    assert store.revoke("op-1", "admin-2", "left") == 1
    assert store.get("op-1") == []
    with pytest.raises(TemplateNotFound):
        store.revoke("op-1", "admin-2", "again")
    with pytest.raises(TemplateNotFound):
        store.revoke(rec.record_id, "admin-2", "again")


def test_rotate_keys_rewraps_and_retires(store: SqliteTemplateStore, keys: KeyFile) -> None:
    store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    store.enrol("op-2", 1, "fake-standin", _tpl("b"), "admin")
    old = keys.key_ids()
    assert store.rotate_keys() == 2
    new = keys.key_ids()
    assert len(new) == 1 and new != old  # the old KEK is destroyed
    assert {r[0] for r in _raw(store.path, "SELECT kek_id FROM template")} == set(new)
    assert [r.template for r in store.get("op-1")] == [_tpl("a")]
    assert [r.template for r in store.get("op-2")] == [_tpl("b")]


def test_the_protection_key_is_separate_and_survives_rotation(
        store: SqliteTemplateStore, keys: KeyFile, tmp_path: Path) -> None:
    """The matcher's template-protection key is not a KEK: rotation keeps it (changing it
    would cancel every template)."""
    protection = keys.protection_key()
    assert len(protection) == 32 and protection != keys.current()[1]
    store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    store.rotate_keys()
    assert keys.protection_key() == protection
    assert KeyFile.create(tmp_path / "other.key").protection_key() != protection


def test_rotation_refuses_a_damaged_key_and_changes_nothing(store: SqliteTemplateStore,
                                                            keys: KeyFile) -> None:
    store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    bad = store.enrol("op-2", 1, "fake-standin", _tpl("b"), "admin")
    _raw(store.path, "UPDATE template SET wrapped_key = zeroblob(40) WHERE record_id = ?",
         bad.record_id)
    before = _raw(store.path, "SELECT record_id, kek_id, wrapped_key FROM template")
    with pytest.raises(TemplateIntegrityError, match="revoke it before rotating"):
        store.rotate_keys()
    assert _raw(store.path, "SELECT record_id, kek_id, wrapped_key FROM template") == before
    store.revoke(bad.record_id, "admin", "damaged")
    assert store.rotate_keys() == 1
    assert [r.template for r in store.get("op-1")] == [_tpl("a")]


CRASH = """
import os, sys
from jukicard.operator import store as mod
from jukicard.operator.kek import KeyFile
calls = []
real = mod._rewrap
def dying(*args):
    calls.append(1)
    if len(calls) == 2:
        os._exit(9)          # the process dies mid-rotation, between two records
    return real(*args)
mod._rewrap = dying
mod.SqliteTemplateStore(sys.argv[1], KeyFile(sys.argv[2])).rotate_keys()
"""


def test_a_crash_mid_rotation_leaves_every_record_readable(store: SqliteTemplateStore,
                                                           tmp_path: Path) -> None:
    """Killed between two re-wraps (a real process exit, no clean-up): the transaction
    never committed, the old KEK is still in the key file, every record opens."""
    for i in range(3):
        store.enrol(f"op-{i}", 1, "fake-standin", _tpl(str(i)), "admin")
    before = _raw(store.path, "SELECT record_id, kek_id, wrapped_key FROM template")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASH), str(store.path),
                           str(tmp_path / "vein.key")], capture_output=True, text=True,
                          timeout=TIMEOUT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          check=False)
    assert proc.returncode == 9, proc.stderr
    assert _raw(store.path, "SELECT record_id, kek_id, wrapped_key FROM template") == before
    assert _raw(store.path, "PRAGMA integrity_check") == [("ok",)]
    for i in range(3):
        assert [r.template for r in store.get(f"op-{i}")] == [_tpl(str(i))]
    assert store.rotate_keys() == 3  # and a later rotation completes


def test_unknown_schema_version_is_refused(store: SqliteTemplateStore) -> None:
    store.list()
    _raw(store.path, "PRAGMA user_version = 2")
    with pytest.raises(TemplateStoreError, match="schema version 2 .* refused"):
        store.list()


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path, keys: KeyFile) -> None:
    path = tmp_path / "other.sqlite"
    _raw(path, "CREATE TABLE t (x)")
    with pytest.raises(TemplateStoreError, match="not a jukicard vein template store"):
        SqliteTemplateStore(path, keys).list()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(TemplateStoreError, match="not a usable SQLite file"):
        SqliteTemplateStore(junk, keys).list()


def test_key_file_rules(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    keys = KeyFile.create(path)
    with pytest.raises(TemplateStoreError, match="already exists"):
        KeyFile.create(path)
    path.chmod(0o644)
    with pytest.raises(TemplateStoreError, match="readable by others"):
        keys.current()
    path.chmod(0o600)
    path.write_text("{}")
    with pytest.raises(TemplateStoreError, match="not a jukicard vein key file"):
        keys.current()
    with pytest.raises(TemplateStoreError, match="keygen"):
        KeyFile(tmp_path / "none.key").current()


def test_bad_arguments_are_usage_errors(store: SqliteTemplateStore) -> None:
    for args in [("", 1), ("rec-x", 1), ("op\n1", 1), ("op", 11), ("op", True)]:
        with pytest.raises(UsageError):
            store.enrol(args[0], args[1], "fake-standin", _tpl("a"), "admin")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        store.enrol("op", 1, "fake-standin", b"raw bytes", "admin")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        store.revoke("op", "admin", "")


def test_no_key_or_template_bytes_in_reprs_logs_or_errors(
        store: SqliteTemplateStore, keys: KeyFile, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rec = store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    _kid, kek = keys.current()
    protection = keys.protection_key()
    texts = [repr(store), repr(keys), repr(rec), repr(store.get("op-1")),
             repr(store.inventory())]
    _raw(store.path, "UPDATE template SET ciphertext = zeroblob(40)")
    with pytest.raises(TemplateIntegrityError) as info:
        store.get("op-1")
    store.rotate_keys()
    texts += [str(info.value), repr(info.value), caplog.text]
    for text in texts:
        assert "VEINSECRET" not in text
        for secret in (kek, protection, MARK):
            assert secret.hex() not in text and repr(secret)[2:-1] not in text


# --------------------------------------------------------------------------- review (rv-vein)
def test_a_revoked_row_put_back_after_rotation_does_not_open(store: SqliteTemplateStore,
                                                             keys: KeyFile,
                                                             tmp_path: Path) -> None:
    """Review finding: the documented "revoke, then rotate-keys" kept the KEK when the
    revoked record was the last one under it (rotation retired only the KEKs of *active*
    rows), so an older copy of the file — a backup — re-activated the revoked reference.
    Fails on the old code: the rolled-back record opened."""
    rec = store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    backup = tmp_path / "backup.sqlite"
    backup.write_bytes(store.path.read_bytes())
    store.revoke(rec.record_id, "admin", "left the office")
    assert store.rotate_keys() == 0
    assert len(keys.key_ids()) == 1
    store.path.write_bytes(backup.read_bytes())  # the attacker rolls the file back
    with pytest.raises(TemplateIntegrityError):
        store.get("op-1")


@pytest.mark.parametrize(("column", "value"), [
    ("finger_id", "abc"), ("format_version", "x"), ("kek_id", "kek-unknown")])
def test_altered_columns_count_as_no_reference(store: SqliteTemplateStore, column: str,
                                               value: str) -> None:
    """Review finding: a row altered to a non-integer finger or format version raised a bare
    ``ValueError`` (CLI exit 1), and one naming an unknown KEK aborted the whole lookup with
    ``TemplateStoreError`` so the operator's intact references were not used either.  Fails
    on the old code."""
    good = store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    bad = store.enrol("op-1", 2, "fake-standin", _tpl("b"), "admin")
    _raw(store.path, f"UPDATE template SET {column} = ? WHERE record_id = ?", value,
         bad.record_id)
    assert [r.record_id for r in store.get("op-1")] == [good.record_id]
    store.revoke(bad.record_id, "admin", "altered")
    _raw(store.path, f"UPDATE template SET {column} = ? WHERE record_id = ?", value,
         good.record_id)
    with pytest.raises(TemplateIntegrityError):
        store.get("op-1")
    assert {r.record_id for r in store.inventory()} == {good.record_id, bad.record_id}


def test_a_store_without_its_table_is_a_typed_error(store: SqliteTemplateStore) -> None:
    """Review finding: reads (``get``, ``inventory``) let ``sqlite3.OperationalError``
    escape (CLI exit 1) from a file whose table was dropped.  Fails on the old code."""
    store.enrol("op-1", 1, "fake-standin", _tpl("a"), "admin")
    _raw(store.path, "DROP TABLE template")
    with pytest.raises(TemplateStoreError, match="no such table"):
        store.get("op-1")
    with pytest.raises(TemplateStoreError, match="no such table"):
        store.inventory()
