"""``python -m jukicard.testing.pkigen``: see :mod:`jukicard.testing.pkigen.cli`."""

from __future__ import annotations

from jukicard.testing.pkigen.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
