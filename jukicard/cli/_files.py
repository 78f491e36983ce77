"""Output files of the CLI (``-o``, ``--cert-out``): checked once, before any PIN is asked,
and written exactly where they were checked.

A command opens :class:`Outputs` before it asks for a PIN, plans each output path
(:meth:`Outputs.plan`) and, once it has its result, writes it (:meth:`OutputFile.write`)::

    with Outputs(inputs=(("FILE", file),)) as outputs:
        sig = outputs.plan("-o", path, what="signature")       # refused here: exit 2
        ... ask the PIN, sign ...
        sig.write(signature)                                   # failed here: exit 1

Planning decides, once, what the path names and how it will be written:

* a new file, or an existing regular file: written to a temporary file created *now* (with
  ``O_CREAT|O_EXCL|O_NOFOLLOW``, mode 0600) in the directory that holds the final name — so a
  directory where no file can be created is found before the PIN — then renamed over the
  final name atomically (a new name is linked with ``link(2)``, which never replaces
  anything), and the directory is fsynced;
* a symlink to a regular file: the file it points to is replaced the same way, the link stays;
* the command's own stdout or stderr, whatever the name (``/dev/stdout``): written to that
  descriptor (``>>`` appends as the shell promised);
* anything else (``/dev/null``, a FIFO, a terminal): written through, never replaced;
* a directory, a missing directory, a file that cannot be written, an output that is one of
  the inputs (by device and inode: hard links, symlinks, ``-`` compared with stdin) or
  another output: refused with :class:`~jukicard.errors.UsageError`.

The path is resolved here one component at a time, each directory opened by this module
(never ``realpath`` then a rename by name), and every later step works relative to the
directory descriptor opened at plan time.  A symlink is followed only if the kernel's
``fs.protected_symlinks`` rule would follow it, whatever that switch says on this machine: in
a sticky world-writable directory (``/tmp``) only a link owned by the user, by root or by the
directory's owner is followed.  At write time the path is resolved again and must lead to
the same place (the same directory and name, the same device and inode, or still absent),
still distinct from every input; anything else is refused with
:class:`~jukicard.errors.OutputError` and nothing is written.

Modes and owners: a new file gets ``0666 & ~umask``, or ``0600 & ~umask`` when the command
says its payload is personal data (``private=True``: the sign certificate holds a name, an
address and a birth date).  A replaced file keeps its permission bits and, when running as
root, its owner and group (otherwise its group when the user may set it).

Trade-off of the atomic replace (kept on purpose: a failed write never leaves a truncated
signature behind): the replaced file is a new inode, so other hard links to the old file keep
the old content, and ACLs and extended attributes of the old file are not carried over (the
new file gets the directory's defaults).  A process killed between the plan and the write
may leave an empty ``.jukicard-*.tmp`` file in the output directory.

Linux/POSIX only (``dir_fd`` and ``O_DIRECTORY`` are used throughout).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from jukicard.errors import OutputError, UsageError

__all__ = ["Outputs", "OutputFile", "MAX_SYMLINKS"]

#: Symlinks followed while resolving one path (the kernel's limit).
MAX_SYMLINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_Ident = tuple[int, int]


def _show(path: str) -> str:
    from jukicard.services.inputs import display_path

    return display_path(path)


def _ident(st: os.stat_result) -> _Ident:
    return st.st_dev, st.st_ino


# --------------------------------------------------------------------------- resolution
@dataclass
class _Place:
    """Where a path leads: the directory holding its last name (open), the name, and the
    object there (``lstat``), ``None`` when the name is absent."""

    dir_fd: int
    dir_st: os.stat_result
    name: str
    st: os.stat_result | None

    def close(self) -> None:
        os.close(self.dir_fd)


def _may_follow(dir_st: os.stat_result, link_st: os.stat_result) -> bool:
    """The kernel's ``fs.protected_symlinks`` rule: in a sticky world-writable directory only
    a link owned by the user, by the directory's owner (or by root) is followed."""
    shared = dir_st.st_mode & stat.S_ISVTX and dir_st.st_mode & stat.S_IWOTH
    return not shared or link_st.st_uid in (os.geteuid(), dir_st.st_uid, 0)


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _resolve(path: str, option: str) -> _Place:
    """Walk ``path`` as the kernel would, opening every directory ourselves and checking
    every symlink met (:func:`_may_follow`) before it is followed.

    :raises UsageError: a missing directory, a component that is not a directory, a symlink
        not followed, a loop, a permission problem on the way.
    """
    if not path:
        raise UsageError(f"{option}: an empty path is not a file name")
    if path.endswith("/") or path.rsplit("/", 1)[-1] in (".", ".."):
        raise UsageError(f"{option} {_show(path)} is a directory")
    try:
        fd = os.open("/" if path.startswith("/") else ".", _DIR_FLAGS)
    except OSError as exc:
        raise UsageError(f"{option} {_show(path)}: {exc.strerror or exc}") from exc
    parts = _parts(path)
    links = 0
    try:
        while True:
            name = parts.pop(0)
            try:
                st: os.stat_result | None = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                dir_st = os.fstat(fd)
                if not _may_follow(dir_st, st):
                    raise UsageError(
                        f"{option} {_show(path)}: not following the symlink {_show(name)}: it "
                        "is in a shared sticky directory and belongs to another user "
                        f"(uid {st.st_uid}); give a path that is not such a link")
                links += 1
                if links > MAX_SYMLINKS:
                    raise UsageError(f"{option} {_show(path)}: too many levels of symbolic links")
                target = os.readlink(name, dir_fd=fd)
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", _DIR_FLAGS)
                parts[:0] = _parts(target)
                if not parts:  # a link to "/" or "."
                    raise UsageError(f"{option} {_show(path)} is a directory")
                continue
            if not parts:
                return _Place(fd, os.fstat(fd), name, st)
            if st is None:
                raise UsageError(f"{option} {_show(path)}: directory {_show(name)} does not "
                                 "exist")
            if not stat.S_ISDIR(st.st_mode):
                raise UsageError(f"{option} {_show(path)}: {_show(name)} is not a directory")
            next_fd = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except OSError as exc:
        os.close(fd)
        raise UsageError(f"{option} {_show(path)}: {exc.strerror or exc}") from exc
    except BaseException:
        os.close(fd)
        raise


# --------------------------------------------------------------------------- planning
Kind = Literal["new", "replace", "stream", "fd"]


@dataclass
class _Plan:
    """What a path names now.

    :ivar kind: ``new`` / ``replace`` (atomic, through :attr:`place`), ``stream`` (opened
        and written through) or ``fd`` (the command's own stdout/stderr, :attr:`fd`).
    :ivar ident: ``(st_dev, st_ino)`` of the existing object, ``None`` for ``new``.
    :ivar place: the resolved directory and name (``None`` for a stream reached through a
        ``/proc`` link, which the kernel alone can follow).
    """

    kind: Kind
    ident: _Ident | None
    st: os.stat_result | None
    place: _Place | None
    fd: int | None = None

    def key(self) -> tuple[object, ...]:
        """What must stay the same between the plan and the write."""
        where = None if self.place is None else (_ident(self.place.dir_st), self.place.name)
        return self.kind, self.ident, where, self.fd

    def close(self) -> None:
        if self.place is not None:
            self.place.close()
            self.place = None


def _own_stream(ident: _Ident) -> int | None:
    """1 or 2 if ``ident`` is the file this process's stdout or stderr is open on."""
    for fd, stream in ((1, sys.__stdout__), (2, sys.__stderr__)):
        if stream is None:  # closed at start-up (>&-): the number may be one of our files
            continue
        try:
            if _ident(os.fstat(fd)) == ident:
                return fd
        except OSError:
            continue
    return None


def _locate(path: str, option: str) -> _Plan:
    """Resolve ``path`` and classify it (see the module docstring).

    :raises UsageError: anything that would make the write fail or do harm.
    """
    place = _resolve(path, option)  # first: its refusals are the clearest
    try:
        try:
            kernel: os.stat_result | None = os.stat(path)  # what the kernel reaches
        except (FileNotFoundError, NotADirectoryError):
            kernel = None
        except OSError as exc:
            raise UsageError(f"{option} {_show(path)}: {exc.strerror or exc}") from exc
        if kernel is not None and stat.S_ISDIR(kernel.st_mode):
            raise UsageError(f"{option} {_show(path)} is a directory")
        plan = _classify(path, option, kernel, place)
    except BaseException:
        place.close()
        raise
    if plan.place is None:
        place.close()
    return plan


def _classify(path: str, option: str, kernel: os.stat_result | None, place: _Place) -> _Plan:
    found = place.st
    if kernel is None:
        if found is not None:
            raise UsageError(f"{option} {_show(path)} changed while it was checked")
        return _Plan("new", None, None, place)
    ident = _ident(kernel)
    own = _own_stream(ident)
    if own is not None:
        return _Plan("fd", ident, kernel, None, own)
    if not stat.S_ISREG(kernel.st_mode):
        if not os.access(path, os.W_OK):
            raise UsageError(f"cannot write {_show(path)} ({option}): permission denied")
        reached = found is not None and _ident(found) == ident
        return _Plan("stream", ident, kernel, place if reached else None)
    if found is None or _ident(found) != ident:
        raise UsageError(f"{option} {_show(path)}: cannot tell which file it names (it "
                         "changed while it was checked, or it is reached through a special "
                         "link); give the file's own path")
    if not os.access(place.name, os.W_OK, dir_fd=place.dir_fd):
        raise UsageError(f"cannot write {_show(path)} ({option}): permission denied")
    dir_st, uid = place.dir_st, os.geteuid()
    if dir_st.st_mode & stat.S_ISVTX and uid not in (0, found.st_uid, dir_st.st_uid):
        raise UsageError(f"cannot replace {_show(path)} ({option}): it belongs to another "
                         "user in a sticky directory")
    return _Plan("replace", ident, kernel, place)


def _umask() -> int:
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def _reserve(place: _Place, path: str, option: str) -> tuple[str, int]:
    """Create the temporary file beside the final name (proves the directory is writable).

    :raises UsageError: no file can be created there.
    """
    for _ in range(100):
        name = f".jukicard-{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=place.dir_fd)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"cannot write {_show(path)} ({option}): cannot create a file in "
                             f"its directory: {exc.strerror or exc}") from exc
        return name, fd
    raise UsageError(f"cannot write {_show(path)} ({option}): no free temporary name")


# --------------------------------------------------------------------------- the API
class OutputFile:
    """One planned output (made by :meth:`Outputs.plan`).

    :ivar option: the option it came from (``-o``).
    :ivar path: the path as given.
    :ivar kind: ``"new"``, ``"replace"`` (atomic), ``"stream"`` (written through) or
        ``"fd"`` (the command's own stdout or stderr).
    :ivar mode: the permission bits the written file gets (atomic kinds).
    """

    def __init__(self, owner: Outputs, option: str, path: str, what: str, private: bool,
                 plan: _Plan) -> None:
        self._owner = owner
        self.option = option
        self.path = path
        self.what = what
        self.private = private
        self._plan = plan
        self.kind: Kind = plan.kind
        self._tmp: tuple[str, int] | None = None
        self.written = False
        if plan.kind == "replace" and plan.st is not None:
            self.mode = stat.S_IMODE(plan.st.st_mode)
        else:
            self.mode = (0o600 if private else 0o666) & ~_umask()
        if plan.place is not None and plan.kind in ("new", "replace"):
            self._tmp = _reserve(plan.place, path, option)

    # ----------------------------------------------------------------- identity
    def _same_object(self, ident: _Ident | None, key: tuple[object, ...] | None) -> bool:
        """Would writing this output touch that object (or planned new name)?"""
        if self._plan.ident is not None:
            return ident == self._plan.ident
        return key is not None and key == self._new_key()

    def _new_key(self) -> tuple[object, ...] | None:
        place = self._plan.place
        if self._plan.kind != "new" or place is None:
            return None
        return _ident(place.dir_st), place.name

    def _is_chardev(self) -> bool:
        return self._plan.st is not None and stat.S_ISCHR(self._plan.st.st_mode)

    # ----------------------------------------------------------------- writing
    def _failed(self, why: str) -> OutputError:
        return OutputError(f"cannot write {_show(self.path)} ({self.option}): {why}; the "
                           f"{self.what} was NOT delivered", option=self.option, path=self.path)

    def write(self, data: bytes) -> None:
        """Write ``data`` where the plan said, after checking the path still leads there.

        :raises OutputError: the path changed since it was checked, it is now one of the
            inputs, or the write failed (nothing half-written is left; an existing file is
            untouched).
        """
        if self.written:
            raise RuntimeError(f"{self.option} was already written")
        changed = "the path no longer leads where it did when it was checked"
        try:
            now = _locate(self.path, self.option)
        except UsageError as exc:
            raise self._failed(f"{changed} ({exc}); nothing was written") from exc
        try:
            if now.key() != self._plan.key():
                raise self._failed(f"{changed}; nothing was written")
            clash = self._owner.input_clash(self)
            if clash is not None:
                raise self._failed(f"it is now the {clash} file itself; nothing was written")
            try:
                self._write(data)
            except OSError as exc:
                raise self._failed(exc.strerror or str(exc)) from exc
        finally:
            now.close()
        self.written = True

    def _write(self, data: bytes) -> None:
        plan = self._plan
        if plan.kind == "fd":
            stream = sys.stdout if plan.fd == 1 else sys.stderr
            if stream is not None:
                stream.flush()
            _write_all(plan.fd or 1, data)
        elif plan.kind == "stream":
            self._write_through(data)
        else:
            self._write_atomic(data)

    def _write_through(self, data: bytes) -> None:
        plan = self._plan
        flags = os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC
        if plan.place is not None:  # open what was checked, relative to its directory
            fd = os.open(plan.place.name, flags | os.O_NOFOLLOW, dir_fd=plan.place.dir_fd)
        else:  # a /proc link only the kernel can follow: check what it opened
            fd = os.open(self.path, flags)
        try:
            if _ident(os.fstat(fd)) != plan.ident:
                raise OSError(errno.ESTALE, "it changed after it was checked; nothing was "
                              "written")
            _write_all(fd, data)
        finally:
            os.close(fd)

    def _write_atomic(self, data: bytes) -> None:
        plan, tmp = self._plan, self._tmp
        assert plan.place is not None and tmp is not None
        name, fd = tmp
        dir_fd = plan.place.dir_fd
        _write_all(fd, data)
        if plan.kind == "replace" and plan.st is not None:
            _keep_owner(fd, plan.st)
        os.fchmod(fd, self.mode)
        os.fsync(fd)
        if plan.kind == "new":
            _link_new(name, plan.place.name, dir_fd)
        else:
            os.rename(name, plan.place.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        self._tmp = None
        os.close(fd)
        try:
            os.fsync(dir_fd)
        except OSError as exc:  # a file system that cannot sync a directory
            if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
                raise

    def discard(self) -> None:
        """Remove the temporary file (if any) and close what the plan holds."""
        if self._tmp is not None and self._plan.place is not None:
            name, fd = self._tmp
            self._tmp = None
            os.close(fd)
            try:
                os.unlink(name, dir_fd=self._plan.place.dir_fd)
            except OSError:
                pass
        self._plan.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _keep_owner(fd: int, old: os.stat_result) -> None:
    """Give the new file the replaced file's owner and group (root), or its group (when the
    user may set it)."""
    if os.geteuid() == 0:
        os.fchown(fd, old.st_uid, old.st_gid)
        return
    try:
        os.fchown(fd, -1, old.st_gid)
    except PermissionError:
        pass


def _link_new(tmp: str, name: str, dir_fd: int) -> None:
    """Give the temporary file its final name without ever replacing one that appeared in
    the meantime (``link(2)`` fails with EEXIST); a file system without hard links gets a
    rename (the name was found absent an instant ago)."""
    try:
        os.link(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError as exc:
        raise OSError(errno.EEXIST, "a file of that name appeared after it was checked; "
                      "nothing was written") from exc
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK,
                             errno.EXDEV, errno.ENOSYS):
            raise
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    os.unlink(tmp, dir_fd=dir_fd)


class Outputs:
    """The output files of one command run: planned before the PIN, written after it, and
    every reserved temporary file removed when the block ends without writing it.

    :param inputs: ``(option, path)`` of the files the command reads; ``"-"`` is stdin
        (compared through ``fstat(0)``), ``None`` nothing.
    """

    def __init__(self, inputs: tuple[tuple[str, str | None], ...] = ()) -> None:
        self._inputs = inputs
        self._files: list[OutputFile] = []

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for file in self._files:
            file.discard()

    def plan(self, option: str, path: str | None, *, what: str = "output",
             private: bool = False) -> OutputFile | None:
        """Check an output path now (before any PIN is asked) and reserve its file.

        :param option: the option naming it (``-o``), for messages.
        :param path: the path given; ``None``: no such output (returns ``None``).
        :param what: what is written, for messages (``"signature"``).
        :param private: the payload is personal data: a new file is created 0600.
        :raises UsageError: the path cannot or must not be written (see the module
            docstring); nothing was created.
        """
        if path is None:
            return None
        plan = _locate(path, option)
        try:
            file = OutputFile(self, option, path, what, private, plan)
        except BaseException:
            plan.close()
            raise
        self._files.append(file)
        try:
            self._check_distinct(file)
        except BaseException:
            self._files.remove(file)
            file.discard()
            raise
        return file

    def _check_distinct(self, file: OutputFile) -> None:
        for other in self._files:
            if other is file or (file._is_chardev() and other._is_chardev()):
                continue
            if file._same_object(other._plan.ident, other._new_key()):
                raise UsageError(f"{other.option} and {file.option} name the same file "
                                 f"{_show(file.path)}: give two different files")
        clash = self.input_clash(file)
        if clash is not None:
            raise UsageError(f"{file.option} {_show(file.path)} is the {clash} file itself: "
                             "it would be replaced; give another output file")

    def input_clash(self, file: OutputFile) -> str | None:
        """The option of the input ``file`` would overwrite (same device and inode), if any."""
        for option, path in self._inputs:
            if path is None:
                continue
            try:
                st = os.fstat(0) if path == "-" else os.stat(path)
            except OSError:
                continue
            if file._same_object(_ident(st), None):
                return f"{option} (stdin)" if path == "-" else option
        return None
