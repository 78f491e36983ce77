"""Key-encryption keys (KEKs) for the vein template store: the provider protocol and the
default provider, a deployment key file.

The store wraps each record's data key under the provider's *current* KEK and unwraps with
the KEK the record names (``kek_id``).  Rotation adds a new current KEK
(:meth:`KeyProvider.new_key`), the store re-wraps every data key under it in one
transaction, then retires every other KEK (:meth:`KeyProvider.retire`; also those only
revoked records used, so an older copy of a revoked row never opens again); a
crash in between leaves the old KEKs in place, so no record becomes unreadable.

The key file also holds the deployment's **template-protection key**
(:meth:`KeyFile.protection_key`), which keys the matcher's irreversible transform; it is not
a KEK and :meth:`~KeyFile.new_key` never changes it (a new one cancels every template: all
operators re-enrol).

The default provider, :class:`KeyFile`, is a JSON file readable by its owner only (mode
0600; a file readable by others is refused), created by
``jukicard operator vein keygen --key-file PATH`` (:meth:`KeyFile.create`) and replaced
atomically (write a temporary file, ``fsync``, rename; changes serialised by a sidecar
lock file) when it changes.  **One key file serves one store**: rotating a store retires
the KEKs its records used, which would strand another store's records.  Key bytes appear in
no log line, exception message or ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from jukicard.errors import TemplateStoreError

__all__ = ["KEK_BYTES", "KeyProvider", "KeyFile"]

#: A KEK is an AES-256 key.
KEK_BYTES = 32
_FORMAT = "jukicard-vein-kek/1"
_MAX_FILE = 1 << 16


@runtime_checkable
class KeyProvider(Protocol):
    """Where the store's KEKs come from (a key file, an HSM, a KMS...)."""

    def current(self) -> tuple[str, bytes]:
        """The KEK new data keys are wrapped under: ``(kek_id, 32 bytes)``."""
        ...

    def get(self, kek_id: str) -> bytes:
        """The KEK ``kek_id``; :class:`~jukicard.errors.TemplateStoreError` if unknown."""
        ...

    def new_key(self) -> str:
        """Make a new KEK current (keeping the others) and return its id."""
        ...

    def retire(self, kek_ids: set[str]) -> None:
        """Destroy these KEKs (never the current one)."""
        ...

    def key_ids(self) -> list[str]:
        """The ids of every KEK held (rotation retires all but the new one)."""
        ...


class KeyFile:
    """The deployment key file (mode 0600): ``{"format": ..., "current": id, "keys":
    {id: base64}, "protection": base64}``.

    :param path: the file; it must exist (see :meth:`create`) and be readable by its owner
        only.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"KeyFile({str(self.path)!r})"

    # ------------------------------------------------------------------ file I/O
    @classmethod
    def create(cls, path: str | Path) -> KeyFile:
        """Create a new key file with one fresh KEK (mode 0600; never overwrites).

        :raises TemplateStoreError: the file exists or cannot be written.
        """
        target = Path(path)
        kek_id = _new_id()
        body = _dump(kek_id, {kek_id: secrets.token_bytes(KEK_BYTES)},
                     secrets.token_bytes(KEK_BYTES))
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise TemplateStoreError(f"key file {target} already exists: not overwritten"
                                     ) from None
        except OSError as exc:
            raise TemplateStoreError(f"key file {target}: cannot be created "
                                     f"({exc.strerror})") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        return cls(target)

    def _read(self) -> tuple[str, dict[str, bytes]]:
        current, keys, _protection = self._read_all()
        return current, keys

    def _read_all(self) -> tuple[str, dict[str, bytes], bytes]:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise TemplateStoreError(
                f"key file {self.path}: cannot be opened ({exc.strerror}); create one with "
                "'jukicard operator vein keygen --key-file PATH'") from None
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise TemplateStoreError(f"key file {self.path}: not a regular file")
            if info.st_mode & 0o077:
                raise TemplateStoreError(
                    f"key file {self.path}: readable by others (mode "
                    f"{stat.S_IMODE(info.st_mode):04o}); it must be 0600")
            raw = fh.read(_MAX_FILE + 1)
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or data.get("format") != _FORMAT:
                raise ValueError("format")
            keys = {str(k): base64.b64decode(v, validate=True)
                    for k, v in dict(data["keys"]).items()}
            current = str(data["current"])
            protection = base64.b64decode(data["protection"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise TemplateStoreError(f"key file {self.path}: not a jukicard vein key file"
                                     ) from None
        if current not in keys or any(len(k) != KEK_BYTES for k in keys.values()) \
                or len(protection) != KEK_BYTES:
            raise TemplateStoreError(f"key file {self.path}: inconsistent (damaged?)")
        return current, keys, protection

    def _write(self, current: str, keys: dict[str, bytes]) -> None:
        protection = self._read_all()[2]
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_dump(current, keys, protection))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise TemplateStoreError(f"key file {self.path}: cannot be written "
                                     f"({exc.strerror})") from None
        _fsync_dir(self.path.parent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write of the file between processes (a sidecar lock file:
        the key file itself is replaced by rename)."""
        lock = self.path.with_name(f".{self.path.name}.lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise TemplateStoreError(f"key file {self.path}: cannot lock ({exc.strerror})"
                                     ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ KeyProvider
    def current(self) -> tuple[str, bytes]:
        kek_id, keys = self._read()
        return kek_id, keys[kek_id]

    def get(self, kek_id: str) -> bytes:
        _current, keys = self._read()
        try:
            return keys[kek_id]
        except KeyError:
            raise TemplateStoreError(f"key file {self.path}: has no key {kek_id!r}") from None

    def new_key(self) -> str:
        with self._locked():
            _current, keys = self._read()
            kek_id = _new_id()
            keys[kek_id] = secrets.token_bytes(KEK_BYTES)
            self._write(kek_id, keys)
        return kek_id

    def retire(self, kek_ids: set[str]) -> None:
        with self._locked():
            current, keys = self._read()
            gone = (kek_ids & set(keys)) - {current}
            if gone:
                self._write(current, {k: v for k, v in keys.items() if k not in gone})

    def protection_key(self) -> bytes:
        """The deployment's template-protection key (32 bytes) for the matcher's
        irreversible transform."""
        return self._read_all()[2]

    def key_ids(self) -> list[str]:
        """The ids of the KEKs in the file (the current one last)."""
        current, keys = self._read()
        return sorted(k for k in keys if k != current) + [current]


def _new_id() -> str:
    return f"kek-{secrets.token_hex(8)}"


def _dump(current: str, keys: dict[str, bytes], protection: bytes) -> bytes:
    return json.dumps({"format": _FORMAT, "current": current,
                       "keys": {k: base64.b64encode(v).decode("ascii")
                                for k, v in keys.items()},
                       "protection": base64.b64encode(protection).decode("ascii")},
                      indent=1).encode("utf-8")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
