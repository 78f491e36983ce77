"""Test-vector generators (may import any part of jukicard).

* :mod:`jukicard.testing.pkigen` — the deterministic JPKI-like test PKI, text/visual-AP data
  and emulator card profiles under ``vectors/pki`` and ``vectors/cards``
  (``python -m jukicard.testing.pkigen``).

Everything these modules produce is synthetic TEST material.
"""
