"""Print the differential agreement table (Markdown): ``python3 tests/differential_report.py``.

Builds the corpus (``jukicard.testing.x509corpus``) in a temporary folder, runs jukicard,
cryptography and ``openssl verify -x509_strict`` on every case
(``tests/differential/differential_support.py``) and prints the table for the README.
``-o FILE`` writes it to a file instead; ``--check`` exits 1 when jukicard accepts what a
peer rejects without a written reason, or its own verdict on a case is wrong.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "differential"))
sys.path.insert(0, str(ROOT))

import cryptography  # noqa: E402
import differential_support as ds  # noqa: E402

from jukicard.testing.x509corpus import build_corpus, write_corpus  # noqa: E402


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python3 tests/differential_report.py",
                                description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", help="write the Markdown here instead of stdout")
    p.add_argument("--note", default="", help="one more line for the summary (e.g. which "
                   "jukicard revision was measured)")
    p.add_argument("--readme", action="store_true",
                   help="also replace the table between the differential markers of README.md")
    p.add_argument("--check", action="store_true",
                   help="exit 1 on an unexplained disagreement or a wrong jukicard verdict")
    args = p.parse_args(argv)
    cases = build_corpus(ROOT / "vectors" / "x509corpus" / "keys")
    with tempfile.TemporaryDirectory(prefix="x509corpus-") as tmp:
        outcomes = ds.evaluate(cases, write_corpus(cases, tmp))
    text = ds.render_markdown(outcomes, openssl=ds.openssl_version() or "openssl (absent)",
                              cryptography=cryptography.__version__,
                              command="python3 tests/differential_report.py", note=args.note)
    if args.readme:
        readme = ROOT / "README.md"
        readme.write_text(ds.replace_readme_block(readme.read_text(encoding="utf-8"), text),
                          encoding="utf-8")
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    bad = [o for o in outcomes if ds.problems(o) or ds.jukicard_problem(o)]
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
