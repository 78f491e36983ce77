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
a resumable results file must keep what earlier runs wrote); it must be a regular file (or
new) and not the manifest.  A progress bar (tqdm) is drawn on stderr when stderr is a
terminal; a summary goes to stderr, and with ``--json`` as a JSON object to stdout.

Exit status 0 when every result in ``--out`` is valid, 5 when some are not, 2 on usage
errors.  The work is done by :mod:`jukicard.services.bulk`.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any

import click

from jukicard.cli._common import is_terminal, notice, out
from jukicard.cli.cert import EXIT_INVALID, validation_options, verify_options

__all__ = ["bulk_verify"]


def _check_out(path: str, manifest: str) -> None:
    """``--out`` must be a regular file (or new, in an existing directory) and not the
    manifest.

    :raises InputError: otherwise.
    """
    from jukicard.services.inputs import InputError, display_path

    try:
        st = os.stat(path)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"--out {display_path(path)}: the directory does not exist",
                             option="--out", path=path) from None
        return
    except OSError as exc:
        raise InputError(f"--out {display_path(path)}: {exc.strerror or exc}",
                         option="--out", path=path) from exc
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"--out {display_path(path)} is not a regular file (a results file "
                         "is appended to and resumed)", option="--out", path=path)
    try:
        same = os.path.samefile(path, manifest)
    except OSError:
        same = False
    if same:
        raise InputError(f"--out {display_path(path)} is the manifest itself: give another "
                         "results file", option="--out", path=path)


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
@validation_options(anchors_required=False)
def bulk_verify(manifest: str, out_path: str, workers: int, dask_address: str | None,
                allow_sha1: bool, as_json: bool, **params: Any) -> int:
    from jukicard.services.bulk import build_verifier, count_lines, run_bulk
    from jukicard.services.inputs import InputError, display_path

    if not os.path.isfile(manifest):
        raise InputError(f"MANIFEST {display_path(manifest)} is not a readable file",
                         option="MANIFEST", path=manifest)
    _check_out(out_path, manifest)
    verifier = build_verifier(verify_options(params), allow_sha1=allow_sha1)
    bar = None
    if is_terminal(sys.stderr):
        from tqdm import tqdm

        bar = tqdm(total=count_lines(manifest), unit="item", file=sys.stderr,
                   dynamic_ncols=True)
    try:
        summary = run_bulk(manifest, out_path, verifier, workers=workers, dask=dask_address,
                           progress=None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()
    for line in summary.text().splitlines():
        notice(line)
    if as_json:
        out().json(summary.to_json())
    return 0 if summary.invalid == 0 else EXIT_INVALID
