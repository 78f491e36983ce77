"""Path building: from a target certificate to a trust anchor through an unordered pool.

Depth-first over every candidate issuer (subject name = issuer name by §7.1, AKI/SKI matches
tried first), loop-safe (no certificate, and no subject+key pair, twice in one path) and
bounded (depth and number of paths).  Several CA generations may be trusted at once, and
self-issued "link" certificates (key rollover, PKITS 4.5) are just more candidates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from jukicard.pki.certs import Certificate
from jukicard.pki.store import CertificatePool, TrustStore

__all__ = ["build_paths", "MAX_DEPTH", "MAX_PATHS"]

log = logging.getLogger(__name__)

#: Hard bound on the number of certificates below the anchor.
MAX_DEPTH = 16
#: Hard bound on the number of complete paths produced for one target.
MAX_PATHS = 64


def build_paths(
    target: Certificate,
    anchors: TrustStore,
    pool: CertificatePool,
    *,
    max_depth: int = MAX_DEPTH,
    max_paths: int = MAX_PATHS,
) -> Iterator[tuple[Certificate, ...]]:
    """Yield candidate paths ``(anchor, ..., target)``, shortest-first at each level.

    :param target: the certificate to validate.
    :param anchors: trust anchors.
    :param pool: intermediate certificates (unordered, may contain junk).
    :param max_depth: most certificates below the anchor (target included).
    :param max_paths: stop after this many paths.
    """
    produced = 0
    if target in anchors:
        yield (target,)
        produced += 1
    max_depth = min(max_depth, MAX_DEPTH)
    chain: list[Certificate] = [target]
    seen_keys: set[tuple[object, bytes]] = {(target.subject_key, target.spki)}

    def dfs() -> Iterator[tuple[Certificate, ...]]:
        nonlocal produced
        top = chain[-1]
        for anchor in anchors.issuers_of(top):
            if anchor == top:
                continue
            if produced >= max_paths:
                return
            produced += 1
            yield (anchor, *reversed(chain))
        if len(chain) >= max_depth:
            return
        for cand in pool.issuers_of(top):
            if produced >= max_paths:
                return
            key = (cand.subject_key, cand.spki)
            if key in seen_keys or cand in anchors:
                continue
            chain.append(cand)
            seen_keys.add(key)
            try:
                yield from dfs()
            finally:
                chain.pop()
                seen_keys.discard(key)

    yield from dfs()
