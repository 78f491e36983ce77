"""A SoftHSM2 token for the **jukicard protocol**'s emulated test cards (tests and demos).

::

    JUKICARD_PKCS11_PIN=... JUKICARD_PKCS11_SO_PIN=... \\
        python -m jukicard.testing.jptoken --dir /tmp/jk-test-hsm --label jukicard-test

is ``python -m jukicard.keys.init`` (same options, same output, same refusals) except that
the master key labelled ``jukicard-protocol-master`` is NOT generated but imported with
pkigen's published TEST value
(:data:`jukicard.testing.pkigen.protocolkeys.TEST_PROTOCOL_MASTER_KEY`): the emulated test
cards (``--profile juki-01``) hold the per-card keys it diversifies to, so ``jukicard juki
authenticate`` succeeds against them.  The jukicard protocol is our own, NOT 住基ネット's.
A production token is made with ``python -m jukicard.keys.init`` (a generated master).
"""

from __future__ import annotations

import sys

from jukicard.keys.init import DEFAULT_MASTER_LABEL
from jukicard.keys.init import main as _init_main
from jukicard.testing.pkigen.protocolkeys import TEST_PROTOCOL_MASTER_KEY

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command; exit status as :func:`jukicard.keys.init.main`."""
    return _init_main(argv, demo_keys={DEFAULT_MASTER_LABEL: TEST_PROTOCOL_MASTER_KEY},
                      prog="python -m jukicard.testing.jptoken")


if __name__ == "__main__":
    sys.exit(main())
