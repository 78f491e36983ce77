"""The command line: ``python -m jukicard.testing.pkigen [--out vectors] [--seed N]
[--key-dir DIR] [--new-keys] [-v]``."""

from __future__ import annotations

import argparse
import logging
import sys

from jukicard.testing.pkigen.generator import DEFAULT_SEED, generate

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    :returns: the exit code (0).
    """
    p = argparse.ArgumentParser(
        prog="python -m jukicard.testing.pkigen",
        description="Generate the jukicard test PKI and card profiles.",
    )
    p.add_argument("--out", default="vectors", help="output root (default: vectors)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="RNG seed")
    p.add_argument("--key-dir", default=None, help="key directory (default: <out>/pki/keys)")
    p.add_argument("--new-keys", action="store_true", help="regenerate all test keys")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    m = generate(args.out, args.seed, key_dir=args.key_dir, new_keys=args.new_keys)
    print(
        f"wrote {len(m['files'])} certificates/CV certs, {len(m['crls'])} CRLs, "
        f"{len(m['cards'])} card profiles under {args.out}",
        file=sys.stderr,
    )
    return 0
