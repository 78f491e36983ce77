"""What the CLI writes: stdout that survives a closed pipe or a full disk, JSON that is
always valid UTF-8, and ``-o`` output files.

stdout (:class:`Stdout`): every result goes through one object.  A write that fails (the
reader of a pipe went away: ``… | head``; ``> /dev/full``) is remembered, later writes are
dropped, and the command still ends with its own exit code — never 0 instead of 5, never a
traceback (:meth:`Stdout.finish` silences the interpreter's last flush).

Output files (``-o``, ``--cert-out``): :func:`plan_output` checks a path before any PIN is
asked; :func:`write_output` then writes it:

* a new file, or an existing regular file, is replaced atomically (temporary file in the
  same directory, fsync, rename), keeping an existing file's permission bits;
* a symlink to a regular file: the file it points to is replaced the same way, the link
  stays;
* the command's own stdout or stderr, whatever the name (``/dev/stdout`` when stdout is
  redirected to a file, ``/proc/self/fd/1``): written to that file descriptor, so ``>>``
  appends as the shell promised;
* anything else (``/dev/null``, a FIFO, a terminal) is written through, never replaced;
* a directory, or a file that cannot be written, is refused before anything happens.

:func:`check_distinct` refuses two paths that are the same file (by name or by device and
inode: hard links, symlinks), so ``sign doc -o doc`` cannot replace the document.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass
from typing import Any, Literal

from jukicard.errors import UsageError

__all__ = [
    "Stdout",
    "clean_text",
    "json_text",
    "OutputTarget",
    "plan_output",
    "check_distinct",
    "write_output",
]


# --------------------------------------------------------------------------- text
def clean_text(text: str) -> str:
    """``text`` with anything that is not valid Unicode (surrogate escapes of file names that
    are not UTF-8) shown as ``\\xNN``, so it can be written as UTF-8."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean(obj: Any) -> Any:
    if isinstance(obj, str):
        return clean_text(obj)
    if isinstance(obj, dict):
        return {clean_text(str(k)): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def json_text(obj: Any, *, indent: int | None = 2) -> str:
    """``obj`` as JSON text (UTF-8 kept as is; every string made valid first)."""
    import json

    return json.dumps(_clean(obj), ensure_ascii=False, indent=indent)


class Stdout:
    """The command's stdout: results only (prompts and notices go to stderr).

    :ivar failed: the ``OSError`` that stopped output (a closed pipe, a full disk), if any.
    """

    def __init__(self) -> None:
        self.failed: OSError | None = None

    def _write(self, write: Any, data: Any) -> None:
        if self.failed is not None:
            return
        try:
            write(data)
        except OSError as exc:
            self.failed = exc

    def text(self, text: str = "", end: str = "\n") -> None:
        """Write a line of text."""
        self._write(sys.stdout.write, clean_text(text) + end)

    def json(self, obj: Any, *, indent: int | None = 2) -> None:
        """Write ``obj`` as JSON and a newline."""
        self.text(json_text(obj, indent=indent))

    def binary(self, data: bytes) -> None:
        """Write bytes (a DER certificate...) to the binary stdout."""
        self.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:  # a text-only stdout (tests): show hex
            self._write(sys.stdout.write, data.hex())
            return
        self._write(buffer.write, data)
        self._write(lambda _d: buffer.flush(), b"")

    def flush(self) -> None:
        self._write(lambda _d: sys.stdout.flush(), None)

    def finish(self) -> str | None:
        """Flush; after a failure keep the interpreter's exit from printing a traceback.

        :returns: a notice for stderr when output was lost for another reason than a
            closed pipe (a full disk), else ``None``.
        """
        self.flush()
        if self.failed is None:
            return None
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass  # not a real file descriptor (tests): nothing to silence
        if self.failed.errno == errno.EPIPE:
            return None
        return f"could not write the output: {self.failed.strerror or self.failed}"


# --------------------------------------------------------------------------- output files
def _show(path: str) -> str:
    from jukicard.services.inputs import display_path

    return display_path(path)


@dataclass(frozen=True)
class OutputTarget:
    """A checked output path.

    :ivar option: the option it came from (``-o``).
    :ivar path: the path as given.
    :ivar kind: ``"new"`` (created atomically), ``"replace"`` (a regular file replaced
        atomically) or ``"stream"`` (a device, FIFO... written through).
    :ivar real: where an atomic write happens (symlinks to regular files resolved).
    :ivar mode: the permission bits to give the file.
    :ivar ident: ``(st_dev, st_ino)`` of an existing target.
    :ivar fd: for the command's own stdout (1) or stderr (2): the descriptor to write to.
    """

    option: str
    path: str
    kind: Literal["new", "replace", "stream"]
    real: str
    mode: int
    ident: tuple[int, int] | None
    fd: int | None = None


def _own_stream(ident: tuple[int, int]) -> int | None:
    """1 or 2 if ``ident`` is the file this process's stdout or stderr is open on."""
    for fd in (1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == ident:
            return fd
    return None


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def plan_output(path: str | os.PathLike[str], option: str) -> OutputTarget:
    """Check an output path now (before any PIN is asked) and say how it will be written.

    :raises UsageError: a directory, a missing directory, no write permission.
    """
    text = os.fspath(path)
    real = os.path.realpath(text)
    try:
        st = os.stat(text)  # follows symlinks: what a write would reach
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"{option} {_show(text)}: {exc.strerror or exc}") from exc
    if st is None:
        directory = os.path.dirname(real)
        if not os.path.isdir(directory):
            raise UsageError(f"{option} {_show(text)}: directory {_show(directory)} "
                             "does not exist")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {_show(text)}: cannot create a file in "
                             f"{_show(directory)}: permission denied")
        return OutputTarget(option, text, "new", real, _default_mode(), None)
    ident = (st.st_dev, st.st_ino)
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{option} {_show(text)} is a directory")
    own = _own_stream(ident)
    if own is not None:
        return OutputTarget(option, text, "stream", real, 0, ident, own)
    if not os.access(text, os.W_OK):
        raise UsageError(f"cannot write {_show(text)} ({option}): permission denied")
    if stat.S_ISREG(st.st_mode):
        return OutputTarget(option, text, "replace", real, stat.S_IMODE(st.st_mode), ident)
    return OutputTarget(option, text, "stream", real, 0, ident)


def check_distinct(targets: list[OutputTarget],
                   inputs: tuple[tuple[str, str | None], ...] = ()) -> None:
    """Refuse outputs that are the same file as another output or as an input.

    :param inputs: ``(option, path)`` of the files the command reads (``None`` / ``"-"``:
        none or stdin).
    :raises UsageError: naming both options.
    """
    def same(a: OutputTarget, b_real: str, b_ident: tuple[int, int] | None) -> bool:
        return a.real == b_real or (a.ident is not None and a.ident == b_ident)

    for i, target in enumerate(targets):
        for other in targets[:i]:
            if same(target, other.real, other.ident) and not _both_devices(target, other):
                raise UsageError(f"{other.option} and {target.option} name the same file "
                                 f"{_show(target.path)}: give two different files")
        for option, path in inputs:
            if path is None or path == "-":
                continue
            try:
                st = os.stat(path)
                ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
            except OSError:
                ident = None
            if same(target, os.path.realpath(path), ident):
                raise UsageError(f"{target.option} {_show(target.path)} is the {option} file "
                                 "itself: it would be replaced; give another output file")


def _both_devices(a: OutputTarget, b: OutputTarget) -> bool:
    """Two outputs to one character device (``/dev/null``) do not clobber each other."""
    if a.kind != "stream" or b.kind != "stream":
        return False
    try:
        return stat.S_ISCHR(os.stat(a.path).st_mode)
    except OSError:
        return False


def write_output(target: OutputTarget, data: bytes) -> None:
    """Write ``data`` to a target :func:`plan_output` checked (it is checked again now).

    :raises UsageError: the file cannot be written (an atomic write leaves nothing behind
        and the old file untouched).
    """
    target = plan_output(target.path, target.option)
    if target.kind == "stream":
        try:
            if target.fd is not None:  # our own stdout/stderr: keep its offset and O_APPEND
                (sys.stdout if target.fd == 1 else sys.stderr).flush()
                view = memoryview(data)
                while view:
                    view = view[os.write(target.fd, view):]
                return
            with open(target.path, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise UsageError(f"cannot write {_show(target.path)} ({target.option}): "
                             f"{exc.strerror or exc}") from exc
        return
    _write_atomic(target, data)


def _write_atomic(target: OutputTarget, data: bytes) -> None:
    import tempfile

    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".jukicard-", suffix=".tmp",
                                   dir=os.path.dirname(target.real))
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), target.mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target.real)
        tmp = None
    except OSError as exc:
        raise UsageError(f"cannot write {_show(target.path)} ({target.option}): "
                         f"{exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
