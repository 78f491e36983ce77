"""Test-vector generators (may import any part of jukicard).

* :mod:`jukicard.testing.pkigen` — the deterministic JPKI-like test PKI, text/visual-AP data
  and emulator card profiles under ``vectors/pki`` and ``vectors/cards``
  (``python -m jukicard.testing.pkigen``).
* :mod:`jukicard.testing.hostile` — hostile intermediate pools and name-constraint chains,
  generated at run time for the bounded-work tests and benchmark (issue 9).

Everything these modules produce is synthetic TEST material.
"""
