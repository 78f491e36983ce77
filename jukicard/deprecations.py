"""Keep ``cryptography``'s deprecation warnings inside the library.

``cryptography`` warns (``CryptographyDeprecationWarning``) about inputs it still accepts: a
certificate whose serial number is not positive, a signature algorithm with NULL
parameters, any use of DSA from cryptography 51 on...  jukicard judges such inputs on its
own terms (the validator rejects or accepts them; the card layer reports what it read), so
the warning tells a library caller nothing, and under ``-W error`` it would even escape as
an untyped exception.  Every place that hands bytes to a ``cryptography`` loader, or reads a
lazily decoded field, does so under :func:`contained_deprecations`.

This module sits at the level of :mod:`jukicard.errors` so that both :mod:`jukicard.pki`
(which may import only ``errors``) and :mod:`jukicard.card` use the one helper.  It is
imported only by modules that use ``cryptography`` anyway.

NOTE: before Python 3.14, :func:`warnings.catch_warnings` swaps the process-wide filter
list while it is active; another thread warning at that moment may have its warning hidden.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.utils import CryptographyDeprecationWarning

__all__ = ["contained_deprecations"]


@contextmanager
def contained_deprecations() -> Iterator[None]:
    """Ignore ``CryptographyDeprecationWarning`` raised inside the block, and only there
    (no filter is installed globally; other warnings pass)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield
