"""Output files of the CLI (``-o``, ``--cert-out``): checked once, before any PIN is asked,
and written exactly where they were checked.

A command opens :class:`Outputs` before it asks for a PIN, plans each output path
(:meth:`Outputs.plan`) and, once it has its result, writes it (:meth:`OutputFile.write`)::

    with Outputs(inputs=(("document", file), ("PIN (--pin-stdin)", "-")),
                 stdout=out()) as outputs:
        sig = outputs.plan("-o", path, what="signature", binary=True)   # refused: exit 2
        ... ask the PIN, sign ...
        sig.write(signature)                                            # failed: exit 1

Planning decides, once, what the path names and how it will be written:

* a new file, or an existing regular file: written to a temporary file created *now* (with
  ``O_CREAT|O_EXCL|O_NOFOLLOW``, mode 0600) in the directory that holds the final name — so a
  directory where no file can be created is found before the PIN — then renamed over the
  final name atomically (a new name is linked with ``link(2)``, which never replaces
  anything), and the directory is fsynced;
* a symlink to a regular file: the file it points to is replaced the same way, the link stays;
* ``-``, or the command's own stdout or stderr whatever the name (``/dev/stdout``): written
  to that descriptor (``>>`` appends as the shell promised); stdout follows the rules of
  :class:`~jukicard.cli._output.Stdout` (a reader that went away keeps the command's code; a
  full disk is exit 1, "NOT delivered");
* a character device (``/dev/null``, a terminal) or a FIFO: opened *now* (``O_WRONLY|
  O_NONBLOCK``: a FIFO nobody reads fails with ``ENXIO`` instead of hanging after the PIN)
  and that descriptor is written through later, never replaced;
* refused with :class:`~jukicard.services.inputs.InputError` (exit 2, ``option`` and ``path``
  in the error JSON): a directory, a missing directory, a file that cannot be written, a
  block device (it would be overwritten from its first byte), a socket, a FIFO with no
  reader, binary output (``binary=True``) to a terminal, a FIFO or regular file another user
  owns in a sticky world-writable directory (:func:`~jukicard.cli._paths.planted`: even as
  root), an output that is one of the inputs (by device and inode: hard links, symlinks,
  ``-`` and ``/dev/stdin`` compared with stdin, which is an input whenever the command reads
  it: a document or ``--pin-stdin``) or another output.

The path is resolved by :mod:`jukicard.cli._paths` (symlinks checked as the kernel's
``fs.protected_symlinks`` would), and every later step works relative to the directory
descriptor opened at plan time.  At write time the path is resolved again and must lead to
the same place (the same directory and name, the same device and inode, or still absent),
still distinct from every input; anything else is refused with
:class:`~jukicard.errors.OutputError` and nothing is written.

Modes and owners: a new file gets ``0666 & ~umask``, or ``0600 & ~umask`` when the command
says its payload is personal data (``private=True``: the sign certificate holds a name, an
address and a birth date).  A replaced file keeps its permission bits and, when running as
root, its owner and group (otherwise its group when the user may set it) — except a file
with personal data: it keeps only its owner's read and write bits (never wider than 0600)
and is never given to another owner (as root it becomes root's).

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
from typing import TYPE_CHECKING, Literal

from jukicard.cli._paths import Place, ident, planted, refused, resolve, show
from jukicard.errors import OutputError, UsageError

if TYPE_CHECKING:
    from jukicard.cli._output import Stdout

__all__ = ["Outputs", "OutputFile"]

_Ident = tuple[int, int]
#: How a device or FIFO is opened at plan time (no controlling terminal, no wait).
_STREAM_FLAGS = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


# --------------------------------------------------------------------------- planning
Kind = Literal["new", "replace", "stream", "fd"]


@dataclass
class _Plan:
    """What a path names now.

    :ivar kind: ``new`` / ``replace`` (atomic, through :attr:`place`), ``stream`` (a device
        or FIFO, written through :attr:`handle`) or ``fd`` (the command's own stdout or
        stderr, :attr:`fd`).
    :ivar ident: ``(st_dev, st_ino)`` of the existing object, ``None`` for ``new``.
    :ivar place: the resolved directory and name (``None`` for ``-`` and for a stream reached
        through a ``/proc`` link, which the kernel alone can follow).
    :ivar handle: the descriptor a stream was opened on at plan time (owned by the plan).
    """

    kind: Kind
    ident: _Ident | None
    st: os.stat_result | None
    place: Place | None
    fd: int | None = None
    handle: int | None = None

    def key(self) -> tuple[object, ...]:
        """What must stay the same between the plan and the write."""
        where = None if self.place is None else (ident(self.place.dir_st), self.place.name)
        return self.kind, self.ident, where, self.fd

    def close(self) -> None:
        if self.place is not None:
            self.place.close()
            self.place = None
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None


def _own_stream(found: _Ident) -> int | None:
    """1 or 2 if ``found`` is the file this process's stdout or stderr is open on."""
    for fd, stream in ((1, sys.__stdout__), (2, sys.__stderr__)):
        if stream is None:  # closed at start-up (>&-): the number may be one of our files
            continue
        try:
            if ident(os.fstat(fd)) == found:
                return fd
        except OSError:
            continue
    return None


def _stdout_plan(option: str) -> _Plan:
    """``-``: the command's stdout.

    :raises InputError: stdout is closed.
    """
    closed = refused(option, "-", f"{option} -: stdout is closed")
    if sys.__stdout__ is None:
        raise closed
    try:
        st = os.fstat(1)
    except OSError:
        raise closed from None
    return _Plan("fd", ident(st), st, None, 1)


def _locate(path: str, option: str) -> _Plan:
    """Resolve ``path`` and classify it (see the module docstring); nothing is opened.

    :raises InputError: anything that would make the write fail or do harm.
    """
    if path == "-":
        return _stdout_plan(option)
    place = resolve(path, option)  # first: its refusals are the clearest
    try:
        try:
            kernel: os.stat_result | None = os.stat(path)  # what the kernel reaches
        except (FileNotFoundError, NotADirectoryError):
            kernel = None
        except OSError as exc:
            raise refused(option, path, f"{option} {show(path)}: {exc.strerror or exc}") \
                from exc
        if kernel is not None and stat.S_ISDIR(kernel.st_mode):
            raise refused(option, path, f"{option} {show(path)} is a directory")
        plan = _classify(path, option, kernel, place)
    except BaseException:
        place.close()
        raise
    if plan.place is None:
        place.close()
    return plan


def _classify(path: str, option: str, kernel: os.stat_result | None, place: Place) -> _Plan:
    found = place.st
    if kernel is None:
        if found is not None:
            raise refused(option, path, f"{option} {show(path)} changed while it was checked")
        return _Plan("new", None, None, place)
    now = ident(kernel)
    own = _own_stream(now)
    if own is not None:
        return _Plan("fd", now, kernel, None, own)
    reached = found is not None and ident(found) == now
    if reached and found is not None and planted(place.dir_st, found):
        raise refused(option, path, (
            f"{option} {show(path)}: refusing to write to a "
            f"{'FIFO' if stat.S_ISFIFO(found.st_mode) else 'file'} that another user (uid "
            f"{found.st_uid}) owns in a shared sticky directory: it may have been put there to "
            "receive the output; give a new name, or a path outside that directory"))
    if stat.S_ISBLK(kernel.st_mode):
        raise refused(option, path, f"{option} {show(path)} is a block device: it would be "
                      "overwritten from its first byte; give a file name")
    if stat.S_ISSOCK(kernel.st_mode):
        raise refused(option, path, f"{option} {show(path)} is a socket, which cannot be "
                      "written as a file; give a file name")
    if not stat.S_ISREG(kernel.st_mode):
        if not os.access(path, os.W_OK):
            raise refused(option, path, f"cannot write {show(path)} ({option}): permission "
                          "denied")
        return _Plan("stream", now, kernel, place if reached else None)
    if found is None or not reached:
        raise refused(option, path, (
            f"{option} {show(path)}: cannot tell which file it names (it changed while it "
            "was checked, or it is reached through a special link); give the file's own path"))
    if not os.access(place.name, os.W_OK, dir_fd=place.dir_fd):
        raise refused(option, path, f"cannot write {show(path)} ({option}): permission denied")
    dir_st, uid = place.dir_st, os.geteuid()
    if dir_st.st_mode & stat.S_ISVTX and uid not in (0, found.st_uid, dir_st.st_uid):
        raise refused(option, path, f"cannot replace {show(path)} ({option}): it belongs to "
                      "another user in a sticky directory")
    return _Plan("replace", now, kernel, place)


def _terminal(option: str, path: str, what: str, fd: int | None = None) -> UsageError:
    given = f"{option} {'-' if path == '-' else show(path)}"
    where = f"{given} is a terminal" if fd is None else \
        f"{given}: {'stdout' if fd == 1 else 'stderr'} is a terminal"
    return refused(option, path, (
        f"{where}: refusing to write the {what} (binary data) to it; give a file name, or "
        "redirect to a file or a pipe"))


def _open(plan: _Plan, path: str, option: str, what: str, binary: bool) -> None:
    """Open a stream now (a FIFO nobody reads fails at once), keep its descriptor in the
    plan, and refuse binary data to a terminal (a stream, or the command's own stdout).

    :raises InputError: a FIFO with no reader, a terminal for binary data, a stream that
        cannot be opened or is not what was checked.
    """
    if plan.kind == "fd" and plan.fd is not None:
        if binary and os.isatty(plan.fd):
            raise _terminal(option, path, what, plan.fd)
        return
    if plan.kind != "stream":
        return
    try:
        if plan.place is not None:  # open what was checked, relative to its directory
            fd = os.open(plan.place.name, _STREAM_FLAGS | os.O_NOFOLLOW,
                         dir_fd=plan.place.dir_fd)
        else:  # a /proc link only the kernel can follow: check what it opened
            fd = os.open(path, _STREAM_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENXIO and plan.st is not None and stat.S_ISFIFO(plan.st.st_mode):
            raise refused(option, path, (
                f"{option} {show(path)} is a FIFO that no process is reading: the {what} "
                "would wait for a reader forever; start the reader first")) from None
        raise refused(option, path, f"cannot write {show(path)} ({option}): "
                      f"{exc.strerror or exc}") from exc
    plan.handle = fd
    if ident(os.fstat(fd)) != plan.ident:
        raise refused(option, path, f"{option} {show(path)} changed while it was checked")
    if binary and os.isatty(fd):
        raise _terminal(option, path, what)
    os.set_blocking(fd, True)


def _umask() -> int:
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def _reserve(place: Place, path: str, option: str) -> tuple[str, int]:
    """Create the temporary file beside the final name (proves the directory is writable).

    :raises InputError: no file can be created there.
    """
    for _ in range(100):
        name = f".jukicard-{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=place.dir_fd)
        except FileExistsError:
            continue
        except OSError as exc:
            raise refused(option, path, f"cannot write {show(path)} ({option}): cannot create "
                          f"a file in its directory: {exc.strerror or exc}") from exc
        return name, fd
    raise refused(option, path, f"cannot write {show(path)} ({option}): no free temporary name")


# --------------------------------------------------------------------------- the API
class OutputFile:
    """One planned output (made by :meth:`Outputs.plan`).

    :ivar option: the option it came from (``-o``).
    :ivar path: the path as given.
    :ivar kind: ``"new"``, ``"replace"`` (atomic), ``"stream"`` (written through) or
        ``"fd"`` (the command's own stdout or stderr).
    :ivar mode: the permission bits the written file gets (atomic kinds).
    :ivar delivered: :meth:`write` put the data there (false before it, and when stdout
        failed under it: a closed pipe or a full disk, see :meth:`write`).
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
        self.delivered = False
        if plan.kind == "replace" and plan.st is not None:
            # personal data never gets more than its owner's read and write bits
            self.mode = stat.S_IMODE(plan.st.st_mode) & (0o600 if private else 0o7777)
        else:
            self.mode = (0o600 if private else 0o666) & ~_umask()
        if plan.place is not None and plan.kind in ("new", "replace"):
            self._tmp = _reserve(plan.place, path, option)

    # ----------------------------------------------------------------- identity
    def _same_object(self, other: _Ident | None, key: tuple[object, ...] | None) -> bool:
        """Would writing this output touch that object (or planned new name)?"""
        if self._plan.ident is not None:
            return other == self._plan.ident
        return key is not None and key == self._new_key()

    def _new_key(self) -> tuple[object, ...] | None:
        place = self._plan.place
        if self._plan.kind != "new" or place is None:
            return None
        return ident(place.dir_st), place.name

    def _is_chardev(self) -> bool:
        return self._plan.st is not None and stat.S_ISCHR(self._plan.st.st_mode)

    # ----------------------------------------------------------------- writing
    def _failed(self, why: str) -> OutputError:
        return OutputError(f"cannot write {show(self.path)} ({self.option}): {why}; the "
                           f"{self.what} was NOT delivered", option=self.option, path=self.path)

    def write(self, data: bytes) -> None:
        """Write ``data`` where the plan said, after checking the path still leads there.

        :raises OutputError: the path changed since it was checked, it is now one of the
            inputs, or the write failed (nothing half-written is left; an existing file is
            untouched).  A failure on stdout (``-``, ``/dev/stdout``) is not raised: it is
            the command's stdout failing (:meth:`~jukicard.cli._output.Stdout.finish`).
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
                raise self._failed(f"it is now {clash}; nothing was written")
            try:
                self._write(data)
            except OSError as exc:
                raise self._failed(exc.strerror or str(exc)) from exc
        finally:
            now.close()
        self.written = True
        self.delivered = self.kind != "fd" or self._owner.stdout is None \
            or self._owner.stdout.failed is None

    def _write(self, data: bytes) -> None:
        plan = self._plan
        if plan.kind == "fd":
            stdout = self._owner.stdout
            if plan.fd == 1 and stdout is not None:
                stdout.binary(data)
                return
            stream = sys.stdout if plan.fd == 1 else sys.stderr
            if stream is not None:
                stream.flush()
            _write_all(plan.fd or 1, data)
        elif plan.kind == "stream":
            assert plan.handle is not None
            _write_all(plan.handle, data)
        else:
            self._write_atomic(data)

    def _write_atomic(self, data: bytes) -> None:
        plan, tmp = self._plan, self._tmp
        assert plan.place is not None and tmp is not None
        name, fd = tmp
        dir_fd = plan.place.dir_fd
        _write_all(fd, data)
        if plan.kind == "replace" and plan.st is not None and not self.private:
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
    user may set it).  Never called for personal data (it stays the user's)."""
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
    every reserved temporary file (and opened stream) released when the block ends.

    :param inputs: ``(what, path)`` of what the command reads (``what`` names it in messages:
        ``"document"``); ``"-"`` is stdin (compared through ``fstat(0)``; give it whenever
        stdin is read: a document, ``--pin-stdin``), ``None`` nothing.
    :param stdout: the command's stdout: ``-`` and ``/dev/stdout`` are written through it
        (its rules for a closed pipe or a full disk); ``None``: written to descriptor 1.
    """

    def __init__(self, inputs: tuple[tuple[str, str | None], ...] = (),
                 stdout: Stdout | None = None) -> None:
        self._inputs = inputs
        self.stdout = stdout
        self._files: list[OutputFile] = []

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for file in self._files:
            file.discard()

    def plan(self, option: str, path: str | None, *, what: str = "output",
             private: bool = False, binary: bool = False) -> OutputFile | None:
        """Check an output path now (before any PIN is asked) and reserve its file (or open
        its device or FIFO).

        :param option: the option naming it (``-o``), for messages.
        :param path: the path given, ``-`` for stdout; ``None``: no such output (returns
            ``None``).
        :param what: what is written, for messages (``"signature"``).
        :param private: the payload is personal data: a new file is created 0600, a
            replaced one keeps at most 0600 and becomes the user's.
        :param binary: the payload is binary: a terminal is refused.
        :raises InputError: the path cannot or must not be written (see the module
            docstring); nothing was created.
        """
        if path is None:
            return None
        plan = _locate(path, option)
        try:
            _open(plan, path, option, what, binary)
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
                raise refused(file.option, file.path, (
                    f"{other.option} and {file.option} name the same file {show(file.path)}: "
                    "give two different files"))
        clash = self.input_clash(file)
        if clash is not None:
            raise refused(file.option, file.path, (
                f"{file.option} {show(file.path)} is {clash}: it would be replaced; give "
                "another output file"))

    def input_clash(self, file: OutputFile) -> str | None:
        """What input ``file`` would overwrite (same device and inode), if any: ``"the
        document file itself"``, ``"stdin itself, from which the PIN (--pin-stdin) is
        read"``.  A character device
        (``/dev/null``, a terminal) is written through, never replaced: no clash."""
        if file._is_chardev():
            return None
        for option, path in self._inputs:
            if path is None or (path == "-" and sys.__stdin__ is None):
                continue  # stdin closed at start-up: descriptor 0 may be one of our files
            try:
                st = os.fstat(0) if path == "-" else os.stat(path)
            except OSError:
                continue
            if file._same_object(ident(st), None):
                return f"stdin itself, from which the {option} is read" if path == "-" \
                    else f"the {option} file itself"
        return None
