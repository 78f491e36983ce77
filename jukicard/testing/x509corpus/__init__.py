"""A generated corpus of small X.509 chains with exactly one defect each, plus controls,
for the differential test of :mod:`jukicard.pki` against pyca/cryptography's verifier and
``openssl verify -x509_strict`` (``tests/differential/``, issue 9).

* :mod:`~.encode` — certificates and CRLs as explicit field specs, encoded with asn1crypto
  and signed with ``cryptography`` (so defects the builders refuse can be written);
* :mod:`~.chain` — the conformant base chains (root → intermediate → leaf, root → leaf) and
  the root's CRL;
* :mod:`~.cases` — the case table (:data:`CASES`): the one change, the rule and RFC 5280
  section, the expected outcome, and written notes where a peer verifier is wrong;
* :mod:`~.corpus` — :func:`build_corpus` and :func:`write_corpus`.

Everything is synthetic TEST material; the keys in ``vectors/x509corpus/keys`` are public.
Run ``python -m jukicard.testing.x509corpus --out DIR`` to write the corpus as PEM files.
"""

from __future__ import annotations

from jukicard.testing.x509corpus.cases import CASES, PEERS, CaseDef
from jukicard.testing.x509corpus.chain import AT
from jukicard.testing.x509corpus.corpus import (
    Case,
    CaseFiles,
    build_corpus,
    load_keys,
    pem,
    write_corpus,
)

__all__ = ["AT", "CASES", "PEERS", "Case", "CaseDef", "CaseFiles", "build_corpus",
           "load_keys", "pem", "write_corpus"]
