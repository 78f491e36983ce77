"""Where an output path of the CLI leads, found as the kernel would find it but checked at
every step (used by :mod:`jukicard.cli._files`).

The path is resolved one component at a time, each directory opened here (never
``realpath`` then a rename by name), and every symlink met is checked before it is followed.
A symlink is followed only if the kernel's ``fs.protected_symlinks`` rule would follow it,
whatever that switch says on this machine: in a sticky world-writable directory (``/tmp``)
only a link owned by the user, by root or by the directory's owner is followed.

The objects at the end of the path follow the stricter rule of :func:`planted` (the kernel's
``fs.protected_fifos`` and ``fs.protected_regular``, without their exemptions): in a sticky
world-writable directory a FIFO or a regular file that the user does not own is never
written to nor replaced, even by root.

Every refusal is an :class:`~jukicard.services.inputs.InputError` naming the option and the
path (``option`` and ``path`` in the CLI's error JSON; exit status 2).

Linux/POSIX only (``dir_fd`` and ``O_DIRECTORY`` are used throughout).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from jukicard.services.inputs import InputError, display_path

__all__ = ["Place", "resolve", "may_follow", "shared_sticky", "planted", "refused", "show",
           "ident", "MAX_SYMLINKS", "DIR_FLAGS"]

#: Symlinks followed while resolving one path (the kernel's limit).
MAX_SYMLINKS = 40
#: How a directory on the way is opened.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
Ident = tuple[int, int]


def show(path: str) -> str:
    """``path`` quoted for a message (:func:`~jukicard.services.inputs.display_path`)."""
    return display_path(path)


def ident(st: os.stat_result) -> Ident:
    """``(st_dev, st_ino)``: the object a stat result describes."""
    return st.st_dev, st.st_ino


def refused(option: str, path: str, message: str) -> InputError:
    """The refusal of an output path: exit 2, ``option`` and ``path`` in the error JSON."""
    return InputError(message, option=option, path=path)


@dataclass
class Place:
    """Where a path leads: the directory holding its last name (open), the name, and the
    object there (``lstat``), ``None`` when the name is absent."""

    dir_fd: int
    dir_st: os.stat_result
    name: str
    st: os.stat_result | None

    def close(self) -> None:
        os.close(self.dir_fd)


def shared_sticky(dir_st: os.stat_result) -> bool:
    """A sticky world-writable directory (``/tmp``): anyone may put a name there."""
    return bool(dir_st.st_mode & stat.S_ISVTX and dir_st.st_mode & stat.S_IWOTH)


def may_follow(dir_st: os.stat_result, link_st: os.stat_result) -> bool:
    """The kernel's ``fs.protected_symlinks`` rule: in a sticky world-writable directory only
    a link owned by the user, by the directory's owner (or by root) is followed."""
    return not shared_sticky(dir_st) or link_st.st_uid in (os.geteuid(), dir_st.st_uid, 0)


def planted(dir_st: os.stat_result, st: os.stat_result) -> bool:
    """A FIFO or regular file in a sticky world-writable directory that someone other than
    the user owns: it may have been put there to receive what is written (a FIFO reads it
    as it comes; a file keeps its owner's access).  Root is not exempt, nor is a file of
    the directory's owner: the user's own files only."""
    return (shared_sticky(dir_st) and (stat.S_ISFIFO(st.st_mode) or stat.S_ISREG(st.st_mode))
            and st.st_uid != os.geteuid())


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def resolve(path: str, option: str) -> Place:
    """Walk ``path`` as the kernel would, opening every directory here and checking every
    symlink met (:func:`may_follow`) before it is followed.

    :raises InputError: a missing directory, a component that is not a directory, a symlink
        not followed, a loop, a permission problem on the way.
    """
    if not path:
        raise refused(option, path, f"{option}: an empty path is not a file name")
    if path.endswith("/") or path.rsplit("/", 1)[-1] in (".", ".."):
        raise refused(option, path, f"{option} {show(path)} is a directory")
    try:
        fd = os.open("/" if path.startswith("/") else ".", DIR_FLAGS)
    except OSError as exc:
        raise refused(option, path, f"{option} {show(path)}: {exc.strerror or exc}") from exc
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
                if not may_follow(os.fstat(fd), st):
                    raise refused(option, path, (
                        f"{option} {show(path)}: not following the symlink {show(name)}: it "
                        "is in a shared sticky directory and belongs to another user "
                        f"(uid {st.st_uid}); give a path that is not such a link"))
                links += 1
                if links > MAX_SYMLINKS:
                    raise refused(option, path, f"{option} {show(path)}: too many levels of "
                                  "symbolic links")
                target = os.readlink(name, dir_fd=fd)
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", DIR_FLAGS)
                parts[:0] = _parts(target)
                if not parts:  # a link to "/" or "."
                    raise refused(option, path, f"{option} {show(path)} is a directory")
                continue
            if not parts:
                return Place(fd, os.fstat(fd), name, st)
            if st is None:
                raise refused(option, path, f"{option} {show(path)}: directory {show(name)} "
                              "does not exist")
            if not stat.S_ISDIR(st.st_mode):
                raise refused(option, path, f"{option} {show(path)}: {show(name)} is not a "
                              "directory")
            next_fd = os.open(name, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except OSError as exc:
        os.close(fd)
        raise refused(option, path, f"{option} {show(path)}: {exc.strerror or exc}") from exc
    except BaseException:
        os.close(fd)
        raise
