"""``jukicard bulk-verify``: verify every signature a JSONL manifest names, resumably.

``jukicard bulk-verify MANIFEST.jsonl --anchor FILE... [--intermediate FILE]... --crl
FILE... [--at ISO8601] [--workers N] [--dask ADDRESS] --out RESULTS.jsonl [--preset
jpki|rfc5280] [--lenient] [--allow-sha1] [--json] ...`` (the path-validation options are
``cert verify``'s).

Each manifest line names a document file (or a hex ``digest``), a signature file (raw
PKCS#1 v1.5 as ``jukicard sign`` writes it, or CMS) and the signer's certificate file,
with an ``id``; relative paths are taken against the manifest's folder.  Each result line
of ``--out`` carries the ``id``, ``valid``, ``reason``, ``message`` and the manifest
``line``; the answers are ``signature verify``'s.  Run it again with the same ``--out`` to
resume: lines already answered are skipped, a torn last line is cut off.

``--out`` is appended to in fsynced batches (not replaced atomically as ``-o`` files are:
a resumable results file must keep what earlier runs wrote).  It is checked before any
work with the rules of every output path (:mod:`jukicard.cli._paths`: symlinks followed
only under the kernel's ``protected_symlinks`` rule; in a sticky world-writable directory
no FIFO or file of another user, root included), must be a regular file or a new name (not
a directory, device, FIFO or socket) and not an input (the manifest, an ``--anchor``,
``--intermediate`` or ``--crl`` file, by device and inode; a manifest line naming it by
path is ``unusable-input``).  It is opened relative to its checked directory with
``O_NOFOLLOW|O_APPEND`` (``O_EXCL`` when new), and the opened file must be the one checked.
A progress bar (tqdm) is drawn on stderr when stderr is a
terminal; a summary goes to stderr, and with ``--json`` as a JSON object to stdout.

Exit status 0 when every result in ``--out`` is valid, 5 when some are not, 2 on usage
errors.  The work is done by :mod:`jukicard.services.bulk`.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from jukicard.cli._common import is_terminal, notice, out
from jukicard.cli.cert import EXIT_INVALID, validation_options, verify_options

if TYPE_CHECKING:
    from jukicard.cli._paths import Place

__all__ = ["bulk_verify"]


Ident = tuple[int, int]
#: How ``--out`` is opened: read (resume) and append, never through a final symlink (the
#: path was resolved and checked step by step), never waiting on a FIFO put there meanwhile.
_OUT_FLAGS = (os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK
              | os.O_CLOEXEC)


def _check_out(path: str, inputs: Sequence[tuple[str, str]]) -> Ident | None:
    """Check ``--out`` before any work, as an output path of every command is checked
    (README "The jukicard command"; :mod:`jukicard.cli._paths`): resolved step by step,
    symlinks followed only under the kernel's ``protected_symlinks`` rule; in a sticky
    world-writable directory no FIFO or file of another user (root included); a regular
    file or a new name, never a directory, device, FIFO or socket, nor one of the
    ``inputs`` (``(what, path)``: the manifest, anchors, intermediates, CRLs), by device
    and inode (hard links and symlinks included).

    :returns: the ``(st_dev, st_ino)`` of the existing file, ``None`` for a new name.
    :raises InputError: refused (exit 2, ``option`` ``--out``).
    """
    place = _resolve_out(path)
    try:
        return _examine(place, path, inputs)
    finally:
        place.close()


def _resolve_out(path: str) -> Place:
    from jukicard.cli._paths import refused, resolve

    if path == "-":
        raise refused("--out", path, "--out -: the results are appended to a file and "
                      "resumed from it; give a file name")
    return resolve(path, "--out")


def _examine(place: Place, path: str, inputs: Sequence[tuple[str, str]]) -> Ident | None:
    """:func:`_check_out` on the resolved ``place``."""
    from jukicard.cli._paths import ident, planted, refused, show

    st = place.st
    if st is None:
        return None
    if planted(place.dir_st, st):
        raise refused("--out", path, (
            f"--out {show(path)}: refusing to write to a "
            f"{'FIFO' if stat.S_ISFIFO(st.st_mode) else 'file'} that another user (uid "
            f"{st.st_uid}) owns in a shared sticky directory: it may have been put there "
            "to receive the results; give a new name, or a path outside that directory"))
    if stat.S_ISDIR(st.st_mode):
        raise refused("--out", path, f"--out {show(path)} is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise refused("--out", path, f"--out {show(path)} is not a regular file (a "
                      "device, FIFO or socket): a results file is appended to and "
                      "resumed; give a file name")
    _input_clash(path, ident(st), inputs)
    return ident(st)


def _input_clash(path: str, found: Ident, inputs: Sequence[tuple[str, str]]) -> None:
    from jukicard.cli._paths import ident, refused, show

    for what, name in inputs:
        try:
            other = os.stat(name)
        except (OSError, ValueError):  # an URL, a file gone: not this file
            continue
        if ident(other) == found:
            raise refused("--out", path, f"--out {show(path)} is the {what} file itself: it "
                          "would be appended to; give another results file")


def _open_out(path: str, inputs: Sequence[tuple[str, str]], checked: Ident | None) -> int:
    """Open ``--out`` for reading and appending, where :func:`_check_out` found it: the
    path is checked again, the file opened relative to its directory with ``O_NOFOLLOW``
    (``O_EXCL`` for a new name) and the opened file must be the one checked.

    :raises InputError: the path changed since it was checked, or cannot be opened.
    """
    from jukicard.cli._paths import ident, refused, show

    changed = refused("--out", path, f"--out {show(path)} changed while it was checked; "
                      "nothing was written")
    place = _resolve_out(path)
    try:
        if _examine(place, path, inputs) != checked:
            raise changed
        create = os.O_CREAT | os.O_EXCL if checked is None else 0
        try:
            fd = os.open(place.name, _OUT_FLAGS | create, 0o666, dir_fd=place.dir_fd)
        except (FileExistsError, IsADirectoryError):
            raise changed from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symlink put there since the check
                raise changed from None
            raise refused("--out", path, f"cannot write {show(path)} (--out): "
                          f"{exc.strerror or exc}") from exc
    finally:
        place.close()
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (checked is not None and ident(st) != checked):
            raise changed
        _input_clash(path, ident(st), inputs)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


@click.command("bulk-verify", short_help="verify the signatures of a JSONL manifest "
               "(resumable; processes or a Dask cluster)",
               help="Verify every signature MANIFEST names (JSONL: id, document or digest, "
               "signature, certificate) and append one result line per item to --out. Run "
               "again with the same --out to resume. Exit 0 when every result is valid, 5 "
               "when some are not, 2 on usage errors.")
@click.argument("manifest", metavar="MANIFEST.jsonl")
@click.option("--out", "out_path", required=True, metavar="RESULTS.jsonl",
              help="results file (JSONL, appended; an existing one is resumed)")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="N", help="worker processes on this machine (with --dask local: the "
              "LocalCluster's workers)")
@click.option("--dask", "dask_address", metavar="ADDRESS",
              help="run on a Dask cluster: a scheduler address (tcp://scheduler:8786) or "
              "'local' (a LocalCluster of --workers processes)")
@click.option("--allow-sha1", is_flag=True,
              help="accept SHA-1 document signatures (old 住基カード-era data only)")
@validation_options(anchors_required=False, fetch=False)
def bulk_verify(manifest: str, out_path: str, workers: int, dask_address: str | None,
                allow_sha1: bool, as_json: bool, **params: Any) -> int:
    from jukicard.services.bulk import ResultsFile, build_verifier, count_lines, run_bulk
    from jukicard.services.inputs import InputError, display_path

    if not os.path.isfile(manifest):
        raise InputError(f"MANIFEST {display_path(manifest)} is not a readable file",
                         option="MANIFEST", path=manifest)
    options = verify_options(params)
    inputs = [("manifest", manifest), *(("--anchor", a) for a in options.anchors),
              *(("--intermediate", i) for i in options.intermediates),
              *(("--crl", c) for c in options.crls)]
    checked = _check_out(out_path, inputs)  # before anything is loaded
    verifier = build_verifier(options, allow_sha1=allow_sha1)
    bar = None
    if is_terminal(sys.stderr):
        from tqdm import tqdm

        bar = tqdm(total=count_lines(manifest), unit="item", file=sys.stderr,
                   dynamic_ncols=True)
    try:
        results = ResultsFile(out_path, fd=_open_out(out_path, inputs, checked))
        summary = run_bulk(manifest, results, verifier, workers=workers, dask=dask_address,
                           progress=None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()
    for line in summary.text().splitlines():
        notice(line)
    if as_json:
        out().json(summary.to_json())
    return 0 if summary.invalid == 0 else EXIT_INVALID
