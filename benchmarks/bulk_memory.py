"""Peak memory of ``jukicard bulk-verify``'s driver on a long manifest (issue 10: a
100M-line manifest never sits in one process's memory).

Not a pytest module (the suite has a 20k/200k-line check, ``test_services_bulk.py``); run::

    flock /tmp/jukicard-heavy.lock python3 benchmarks/bulk_memory.py --lines 2000000 \\
        [--before /path/to/an/older/tree] [--random-ids] [--verified-every 100]

For this tree (and ``--before``'s, measured with the same probe) it writes a manifest of
``--lines`` digest lines (:func:`jukicard.testing.bulkgen.write_digest_manifest`) in a
temporary directory, then runs :data:`jukicard.testing.bulkgen.RSS_PROBE` in a subprocess
twice: a fresh run, then a resumed one (everything already answered: the results file is
read and the manifest streamed again).  It prints a Markdown table of the peak RSS
(``VmHWM``) before and after each run and the time of the run.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jukicard.testing.bulkgen import RSS_PROBE, write_digest_manifest  # noqa: E402


def probe(tree: Path, manifest: Path, out: Path) -> dict[str, float]:
    """One run of the probe with ``tree``'s jukicard first on the path (run in the
    manifest's folder: ``python -c`` puts the working directory before PYTHONPATH)."""
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE, str(manifest), str(out)],
                          env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True,
                          text=True, check=True, cwd=manifest.parent)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--verified-every", type=int, default=100)
    parser.add_argument("--random-ids", action="store_true")
    parser.add_argument("--before", type=Path, help="an older tree to measure as well")
    args = parser.parse_args()
    trees = ([("before", args.before)] if args.before else []) + [("this tree", ROOT)]
    print("| tree | run | lines | peak RSS before | peak RSS after | growth | seconds |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_digest_manifest(Path(tmp), args.lines,
                                         verified_every=args.verified_every,
                                         random_ids=args.random_ids)
        for name, tree in trees:
            out = Path(tmp) / f"out-{name.replace(' ', '-')}.jsonl"
            for run in ("fresh", "resumed"):
                got = probe(tree, manifest, out)
                print(f"| {name} | {run} | {got['total']:,} | {got['base_kib'] / 1024:.1f} MiB "
                      f"| {got['peak_kib'] / 1024:.1f} MiB "
                      f"| {(got['peak_kib'] - got['base_kib']) / 1024:.1f} MiB "
                      f"| {got['seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
