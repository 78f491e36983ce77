"""``python -m jukicard.testing.x509corpus --out DIR [--key-dir DIR]``: write the corpus as
PEM files and ``manifest.json`` (layout: :mod:`jukicard.testing.x509corpus.corpus`)."""

from __future__ import annotations

import argparse
import sys

from jukicard.testing.x509corpus.corpus import build_corpus, write_corpus


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    :returns: the exit code (0).
    """
    p = argparse.ArgumentParser(prog="python -m jukicard.testing.x509corpus",
                                description="Write the differential X.509 corpus.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--key-dir", default="vectors/x509corpus/keys",
                   help="the corpus TEST keys (default: vectors/x509corpus/keys)")
    args = p.parse_args(argv)
    files = write_corpus(build_corpus(args.key_dir), args.out)
    print(f"wrote {len(files)} cases under {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
