"""``python3 -m jukicard``: the ``jukicard`` command (see :mod:`jukicard.cli.main`)."""

import sys

from jukicard.cli.main import main

sys.exit(main())
