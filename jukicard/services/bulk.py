"""Bulk verification as a use case (``jukicard bulk-verify``): a JSONL manifest in, a JSONL
results file out, resumable, on this machine or on a Dask cluster.

Manifest: one JSON object per line, paths relative to the manifest's folder::

    {"id": "a1", "document": "docs/a1.xml", "signature": "sig/a1.bin",
     "certificate": "certs/s7.der"}
    {"id": "a2", "digest": "9f86d0…", "signature": "sig/a2.bin", "certificate": "c/s7.der"}

(each object on one line; ``certificate`` may be left out for a CMS signature).

Results: one JSON object per manifest line, in the order the items finished::

    {"id": "a1", "valid": true, "reason": "ok", "message": "…", "line": 1}

``line`` is the manifest line (1-based).  A malformed line, an unreadable file or a
duplicate id is a result with its reason (:class:`~jukicard.pki.bulk.BulkReason`), never
the end of the run.  Resume: the results file is read first; a torn last line (a run
killed while writing) is cut off, and the lines already answered are skipped; results are
written in batches, each flushed and fsynced, so a kill loses no written result and an
item is never answered twice.  Resuming assumes the same manifest.

The verifier is built once from the :class:`~jukicard.services.verify.VerifyOptions`
(anchors, intermediates and CRLs loaded once) and copied once to each worker process or
Dask worker (as its inputs: the policy, certificates and CRL bytes); the manifest is
streamed and at most a few partitions are in flight, so it is never held whole, and the
driver's own state (lines answered, ids seen) does not grow with it
(:mod:`jukicard.services.bulkstate`).  The
files a line names are read by the worker: on a cluster they must be on a filesystem
every worker sees at the same (absolute) path.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Container, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, BinaryIO

from jukicard.errors import UsageError
from jukicard.services.bulkstate import BATCH, ResultsFile, SeenIds, line_hash
from jukicard.services.inputs import (
    MAX_CERTIFICATE,
    MAX_SIGNATURE,
    InputError,
    display_path,
    read_input,
)
from jukicard.services.verify import VerifyOptions, build_validation

__all__ = ["BulkSummary", "Task", "build_verifier", "manifest_tasks", "verify_task",
           "ResultsFile", "run_bulk", "run_on_dask", "count_lines", "BATCH"]

log = logging.getLogger(__name__)

#: Manifest lines per task sent to a worker.
PARTITION = 256
#: A manifest line longer than this is malformed (and not parsed).
MAX_LINE = 64 * 1024

# A task: (manifest line, id, document path, digest, signature path, certificate path), or
# (manifest line, id, reason, message) for a line answered without a worker.
Task = tuple[Any, ...]
Progress = Callable[[int], None]


@dataclass
class BulkSummary:
    """What a run did (:meth:`to_json` is ``bulk-verify --json``'s object).

    :ivar total: results in the results file now.
    :ivar verified: items answered by this run.
    :ivar skipped: manifest lines already answered (resume).
    :ivar by_reason: reason → count, over the whole results file.
    :ivar seconds: wall time of this run's verification (loading excluded).
    """

    total: int = 0
    verified: int = 0
    skipped: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def valid(self) -> int:
        """Valid results in the file."""
        return self.by_reason.get("ok", 0)

    @property
    def invalid(self) -> int:
        """Invalid results in the file."""
        return self.total - self.valid

    @property
    def rate(self) -> float:
        """Items per second of this run."""
        return self.verified / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON object."""
        return {"total": self.total, "valid": self.valid, "invalid": self.invalid,
                "verified": self.verified, "skipped": self.skipped,
                "by_reason": dict(sorted(self.by_reason.items())),
                "seconds": round(self.seconds, 3), "rate": round(self.rate, 1)}

    def text(self) -> str:
        """One human-readable paragraph."""
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_reason.items()))
        return (f"{self.total} results ({self.valid} valid, {self.invalid} invalid); "
                f"{self.verified} verified now in {self.seconds:.1f} s "
                f"({self.rate:.0f}/s), {self.skipped} already done"
                + (f"\nby reason: {reasons}" if reasons else ""))


# --------------------------------------------------------------------------- verifier
def build_verifier(options: VerifyOptions, *, allow_sha1: bool = False) -> Any:
    """The :class:`~jukicard.pki.bulk.BulkVerifier` for ``options`` (one validation time,
    anchors, intermediates and CRLs loaded once, as ``signature verify`` loads them).

    :raises UsageError: no anchors (and not the jpki preset), ``--fetch-crls`` (a bulk run
        is checked against the CRLs given), or what
        :func:`~jukicard.services.verify.build_validation` refuses.
    """
    import dataclasses

    from jukicard.pki.bulk import BulkVerifier

    if not options.validates_path:
        raise UsageError("bulk verification needs --anchor or --preset jpki")
    if options.fetch_crls:
        raise UsageError("--fetch-crls: give the CRLs with --crl for a bulk run")
    options = dataclasses.replace(options, at=options.validation_time())
    setup = build_validation(options)
    validator = setup.validator
    min_bits = options.min_rsa_bits if options.min_rsa_bits is not None \
        else (2048 if options.jpki else None)
    return BulkVerifier(validator.policy, list(validator.pool), at=setup.at,
                        min_key_size=min_bits, allow_sha1=allow_sha1,
                        revocation=validator.revocation)


# --------------------------------------------------------------------------- manifest
def _malformed(number: int, ident: str | None, message: str) -> Task:
    from jukicard.pki.bulk import BulkReason

    # a line without a usable id is answered with "id": null (a made-up id could collide
    # with a real one)
    return (number, ident, str(BulkReason.MALFORMED_LINE), message)


def _parse_line(number: int, raw: bytes, folder: str, outputs: Container[str] = ()) -> Task:
    """One manifest line as a task (or an answered malformed line, or an unusable one: a
    line naming an output file, :func:`manifest_tasks`)."""
    if len(raw) > MAX_LINE:
        return _malformed(number, None, f"manifest line {number} is longer than {MAX_LINE}")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _malformed(number, None, f"manifest line {number} is not JSON")
    if not isinstance(obj, dict):
        return _malformed(number, None, f"manifest line {number} is not a JSON object")
    ident = obj.get("id")
    if not isinstance(ident, str) or not ident:
        return _malformed(number, None, f"manifest line {number} has no string id")

    def path(name: str, required: bool) -> str | None:
        value = obj.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise ValueError(f"'{name}' must be a file path")
        if "\x00" in value:
            raise ValueError(f"'{name}' holds a NUL character")
        return os.path.join(folder, value)

    try:
        signature = path("signature", True)
        certificate = path("certificate", False)
        if ("document" in obj) == ("digest" in obj):
            raise ValueError("give exactly one of 'document' and 'digest'")
        document = path("document", False) if "document" in obj else None
        digest = None
        if "digest" in obj:
            if not isinstance(obj["digest"], str):
                raise ValueError("'digest' must be hex text")
            digest = bytes.fromhex(obj["digest"])
    except ValueError as exc:
        return _malformed(number, ident, f"manifest line {number}: {exc}")
    for what, named in (("document", document), ("signature", signature),
                        ("certificate", certificate)):
        if named is not None and os.path.normpath(named) in outputs:
            from jukicard.pki.bulk import BulkReason

            return (number, ident, str(BulkReason.UNUSABLE_INPUT),
                    f"manifest line {number}: the {what} is the results file (--out)")
    return (number, ident, document, digest, signature, certificate)


def _unreadable(manifest: str | os.PathLike[str], exc: OSError) -> InputError:
    return InputError(f"MANIFEST: cannot read {display_path(manifest)}: "
                      f"{exc.strerror or exc}", option="MANIFEST", path=manifest)


def _open_manifest(manifest: str | os.PathLike[str]) -> BinaryIO:
    """The manifest, opened for reading in binary.

    :raises InputError: it cannot be opened (``option`` ``MANIFEST``).
    """
    try:
        return open(manifest, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise _unreadable(manifest, exc) from exc


def manifest_tasks(manifest: str | os.PathLike[str], *, skip: Container[int] = (),
                   scratch: str | os.PathLike[str] | None = None,
                   outputs: Iterable[str | os.PathLike[str]] = ()
                   ) -> Generator[Task, None, None]:
    """Stream the manifest's tasks (blank lines are not items; relative paths are taken
    against the manifest's folder; a later line repeating an id is a ``duplicate-id``
    result).

    The ids seen are kept on disk (:class:`~jukicard.services.bulkstate.SeenIds`, exact),
    so the memory taken does not grow with the manifest.

    :param skip: manifest lines already answered (not yielded; their ids still count).
    :param scratch: the directory for the ids database (default: the system's temporary
        directory).
    :param outputs: files the run writes (the results file): a line naming one as an input
        is ``unusable-input`` (compared by absolute path: a cheap check on every line; the
        same file reached through a link or another name is not seen).
    :raises InputError: the manifest cannot be opened.
    """
    from jukicard.pki.bulk import BulkReason

    folder = os.path.dirname(os.path.abspath(manifest))
    written = frozenset(os.path.normpath(p) for o in outputs
                        for p in (os.path.abspath(o), os.path.realpath(o)))
    with _open_manifest(manifest) as f:
        seen = SeenIds(scratch)
        try:
            for number, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                task = _parse_line(number, raw.strip(), folder, written)
                duplicate = len(task) == 6 and not seen.add(task[1])
                if number in skip:
                    continue
                if duplicate:
                    task = (number, task[1], str(BulkReason.DUPLICATE_ID),
                            f"id {task[1]!r} appears on an earlier manifest line")
                yield task
        finally:
            seen.close()


def _check_same_manifest(manifest: str | os.PathLike[str], results: ResultsFile) -> None:
    """Before a resume: the manifest's answered lines must carry the ids the results give
    them (a changed manifest would have lines skipped that were never verified).

    :raises UsageError: naming ``--out`` when the manifest is not the one the results were
        written for.
    """
    folder = os.path.dirname(os.path.abspath(manifest))
    total = count = 0
    try:
        with _open_manifest(manifest) as f:
            for number, raw in enumerate(f, start=1):
                if number in results.done and raw.strip():
                    ident = _parse_line(number, raw.strip(), folder)[1]
                    total = (total + line_hash(number, ident)) % (1 << 64)
                    count += 1
    except OSError as exc:  # a read error (the open's is already an InputError)
        raise _unreadable(manifest, exc) from exc
    if count != len(results.done) or total != results.fingerprint:
        raise UsageError(
            f"--out {display_path(results.path)} holds results for another manifest (the "
            "ids of the lines it answers differ from MANIFEST's): resume only with the same "
            "manifest, or give another --out")


def count_lines(path: str | os.PathLike[str]) -> int:
    """Non-blank lines of a file, read in blocks (for a progress bar's total)."""
    total = 0
    with open(path, "rb") as f:
        for raw in f:
            total += bool(raw.strip())
    return total


# --------------------------------------------------------------------------- one task
@lru_cache(maxsize=1024)
def _certificate(path: str) -> bytes:
    # a repeat signer's certificate file is read once per worker
    return read_input(path, option="certificate", what="certificate", limit=MAX_CERTIFICATE)


def verify_task(verifier: Any, task: Task) -> tuple[int, dict[str, Any]]:
    """Answer one task: ``(manifest line, result object)``; never raises for a bad item."""
    from jukicard.pki.bulk import BulkItem, BulkReason

    number, ident = task[0], task[1]
    if len(task) == 4:
        result = {"id": ident, "valid": False, "reason": task[2], "message": task[3]}
    else:
        _n, _i, document, digest, signature, certificate = task
        try:
            sig = read_input(signature, option="signature", what="signature",
                             limit=MAX_SIGNATURE)
            cert = None if certificate is None else _certificate(certificate)
        except (UsageError, OSError, ValueError) as exc:
            result = {"id": ident, "valid": False,
                      "reason": str(BulkReason.UNREADABLE_INPUT), "message": str(exc)}
        else:
            try:
                result = verifier.verify(BulkItem(ident, sig, cert, document,
                                                  digest)).to_json()
            except Exception as exc:  # noqa: BLE001 - one item never ends the run
                log.warning("manifest line %d: unexpected %s", number, type(exc).__name__,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                result = {"id": ident, "valid": False,
                          "reason": str(BulkReason.UNUSABLE_INPUT),
                          "message": f"manifest line {number}: could not be verified "
                                     f"({type(exc).__name__})"}
    result["line"] = number
    return number, result


def _verify_tasks(verifier: Any, tasks: list[Task]) -> list[tuple[int, dict[str, Any]]]:
    return [verify_task(verifier, t) for t in tasks]


# --------------------------------------------------------------------------- engines
def _partitions(tasks: Iterable[Task], size: int) -> Iterator[list[Task]]:
    chunk: list[Task] = []
    for t in tasks:
        chunk.append(t)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_PROCESS_VERIFIER: Any = None


def _init_process(verifier: Any) -> None:
    global _PROCESS_VERIFIER
    _PROCESS_VERIFIER = verifier


def _process_tasks(tasks: list[Task]) -> list[tuple[int, dict[str, Any]]]:
    return _verify_tasks(_PROCESS_VERIFIER, tasks)


def run_bulk(manifest: str | os.PathLike[str], out: str | os.PathLike[str] | ResultsFile,
             verifier: Any, *, workers: int = 1, dask: Any = None,
             progress: Progress | None = None) -> BulkSummary:
    """Verify every manifest line not yet answered in ``out`` and append the results.

    The memory taken does not grow with the manifest (one bit per manifest line, the ids
    on disk: :mod:`jukicard.services.bulkstate`); a line naming ``out`` as one of its
    files is ``unusable-input``.

    :param out: the results file: a path, or a :class:`ResultsFile` already opened (by
        the CLI after its checks of ``--out``; closed here).
    :param verifier: a :class:`~jukicard.pki.bulk.BulkVerifier` (:func:`build_verifier`).
    :param workers: processes on this machine (1 = this process), or Dask workers of a
        ``LocalCluster`` when ``dask`` is ``"local"``.
    :param dask: ``None``; a scheduler address (``tcp://scheduler:8786``); ``"local"`` (a
        LocalCluster of ``workers`` processes); or a ``distributed.Client``.
    :param progress: called with the number of items just answered (first, on resume,
        with the number already in ``out``).
    :raises UsageError: unreadable manifest, ``out`` not a results file, ``workers`` < 1.
    """
    if not isinstance(workers, int) or workers < 1:
        if isinstance(out, ResultsFile):
            out.close()
        raise UsageError("--workers must be >= 1")
    results = out if isinstance(out, ResultsFile) else ResultsFile(out)
    if len(results.done):
        try:
            _check_same_manifest(manifest, results)
        except BaseException:
            results.close()
            raise
    tasks = manifest_tasks(manifest, skip=results.done, outputs=(results.path,),
                           scratch=os.path.dirname(os.path.abspath(results.path)))
    summary = BulkSummary(skipped=len(results.done))
    if progress is not None and summary.skipped:
        progress(summary.skipped)
    start = time.perf_counter()
    try:
        if dask is not None:
            parts = run_on_dask(verifier, tasks, dask, workers=workers)
        else:
            parts = _run_local_parts(verifier, tasks, workers)
        for part in parts:
            for _number, result in part:
                results.add(result)
            summary.verified += len(part)
            if progress is not None:
                progress(len(part))
    finally:
        tasks.close()
        results.close()
    summary.seconds = time.perf_counter() - start
    summary.total = len(results.done)
    summary.by_reason = results.by_reason
    return summary


def _run_local_parts(verifier: Any, tasks: Iterable[Task], workers: int
                     ) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    if workers == 1:
        for part in _partitions(tasks, PARTITION):
            yield _verify_tasks(verifier, part)
        return
    from concurrent.futures import ProcessPoolExecutor

    from jukicard.pki.bulk import ordered_chunk_outputs

    with ProcessPoolExecutor(workers, initializer=_init_process,
                             initargs=(verifier,)) as pool:
        # one partition of PARTITION tasks per pool task, its results list yielded whole
        yield from ordered_chunk_outputs(pool, _process_tasks, tasks, PARTITION, 2 * workers)


# --------------------------------------------------------------------------- Dask
PLUGIN_NAME = "jukicard-bulk-verifier"


def _dask_plugin(verifier: Any) -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class VerifierPlugin(WorkerPlugin):
        """Holds the verifier on a worker: shipped (pickled as its inputs) once."""

        name = PLUGIN_NAME

        def __init__(self, verifier: Any) -> None:
            self.verifier = verifier

    return VerifierPlugin(verifier)


def _dask_tasks(tasks: list[Task]) -> list[tuple[int, dict[str, Any]]]:
    from distributed import get_worker

    plugin = get_worker().plugins[PLUGIN_NAME]
    return _verify_tasks(getattr(plugin, "verifier"), tasks)  # noqa: B009 - a local class


def run_on_dask(verifier: Any, tasks: Iterable[Task], cluster: Any, *, workers: int = 2,
                in_flight: int | None = None
                ) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Answer ``tasks`` on a Dask cluster, yielding each partition's results as it
    completes.

    The verifier goes to every worker once (a ``WorkerPlugin``, pickled as its inputs:
    policy, certificates, CRL bytes); each task names only its partition's lines; at most
    ``in_flight`` partitions (default: 2 per worker thread) are submitted at a time.

    :param cluster: a scheduler address (``tcp://scheduler:8786``), ``"local"`` (a
        ``LocalCluster`` of ``workers`` single-threaded processes, closed at the end) or a
        ``distributed.Client``.
    :raises InputError: the scheduler cannot be reached (exit 2, ``option`` ``--dask``).
    """
    import logging

    from distributed import Client, LocalCluster, as_completed

    # distributed logs its scheduler's and nanny's life at INFO and a restarted worker at
    # WARNING: keep them out of a counter's terminal (the run's answers do not depend on
    # them: a lost partition is recomputed) unless the application logs at INFO or below
    root = logging.getLogger().getEffectiveLevel()
    logging.getLogger("distributed").setLevel(root if root <= logging.INFO else logging.ERROR)
    own: list[Any] = []
    if isinstance(cluster, Client):
        client = cluster
    elif cluster == "local":
        local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=":0")
        client = Client(local)
        own = [client, local]
    else:
        try:
            client = Client(cluster)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"--dask: cannot reach the Dask scheduler {cluster!r} ({exc})",
                             option="--dask", path=None) from exc
        own = [client]
    try:
        client.register_plugin(_dask_plugin(verifier), name=PLUGIN_NAME)
        threads = sum(client.nthreads().values()) or 1
        limit = in_flight or 2 * threads
        parts = _partitions(tasks, PARTITION)
        futures = as_completed()
        running = 0
        for part in parts:
            futures.add(client.submit(_dask_tasks, part, pure=False))
            running += 1
            if running >= limit:
                done = next(futures)
                running -= 1
                yield done.result()
        for done in futures:
            yield done.result()
    finally:
        for thing in own:
            thing.close()
