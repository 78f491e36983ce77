"""Test-vector generators (may import any part of jukicard).

* :mod:`jukicard.testing.pkigen` — the deterministic JPKI-like test PKI, text/visual-AP data
  and emulator card profiles under ``vectors/pki`` and ``vectors/cards``
  (``python -m jukicard.testing.pkigen``);
* :mod:`jukicard.testing.hostile` — hostile intermediate pools, name-constraint chains and
  policy-mapping chains, generated at run time for the bounded-work tests and benchmark
  (issue 9);
* :mod:`jukicard.testing.x509corpus` — small X.509 chains and CRLs with exactly one RFC 5280
  defect each, plus controls, for the differential test against pyca/cryptography and
  ``openssl verify -x509_strict`` (``python -m jukicard.testing.x509corpus --out DIR``).

Everything these modules produce is synthetic TEST material.
"""
