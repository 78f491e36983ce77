"""Stateful stores, kept apart from the (immutable) policy: trust anchors, intermediate
pool, CRLs.  Everything is indexed by RFC 5280 §7.1 name key, so look-ups are O(1).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator

from jukicard.pki.certs import Certificate, load_certificates
from jukicard.pki.crl import Crl, load_crls
from jukicard.pki.names import NameKey

__all__ = ["CertificatePool", "TrustStore", "CrlStore"]

log = logging.getLogger(__name__)

CertInput = Certificate | bytes


def _as_cert(c: CertInput) -> list[Certificate]:
    if isinstance(c, Certificate):
        return [c]
    return load_certificates(c)


class CertificatePool:
    """An unordered set of certificates indexed by subject name and key identifier.

    Used for intermediates; :class:`TrustStore` is the same structure for anchors.

    :param certs: certificates (objects or DER/PEM bytes).
    :raises MalformedCertificateError: for bytes that do not parse.
    """

    def __init__(self, certs: Iterable[CertInput] = ()) -> None:
        self._by_subject: dict[NameKey, list[Certificate]] = {}
        self._all: dict[bytes, Certificate] = {}
        self._lock = threading.Lock()
        for c in certs:
            for cert in _as_cert(c):
                self.add(cert)

    def add(self, cert: Certificate) -> None:
        """Add a certificate (duplicates are ignored)."""
        with self._lock:
            if cert.der in self._all:
                return
            self._all[cert.der] = cert
            self._by_subject.setdefault(cert.subject_key, []).append(cert)

    def by_subject(self, subject: NameKey) -> list[Certificate]:
        """Certificates whose subject matches ``subject`` (§7.1)."""
        return list(self._by_subject.get(subject, ()))

    def issuers_of(self, cert: Certificate) -> list[Certificate]:
        """Candidate issuers of ``cert``: subject = its issuer; AKI/SKI matches first.

        :param cert: the certificate whose issuer is wanted.
        """
        cands = self.by_subject(cert.issuer_key)
        aki = cert.authority_key_identifier
        if aki is None:
            return cands

        def rank(c: Certificate) -> int:
            ski = c.subject_key_identifier
            if ski is None:
                return 1
            return 0 if ski == aki else 2

        return sorted(cands, key=rank)

    def __contains__(self, cert: object) -> bool:
        return isinstance(cert, Certificate) and cert.der in self._all

    def __iter__(self) -> Iterator[Certificate]:
        return iter(list(self._all.values()))

    def __len__(self) -> int:
        return len(self._all)


class TrustStore(CertificatePool):
    """The trust anchors (several CA generations may be trusted at once)."""


class CrlStore:
    """CRLs indexed by issuer name (§7.1 key); each CRL is parsed once.

    :param crls: :class:`~jukicard.pki.crl.Crl` objects or DER/PEM bytes.
    :raises MalformedCrlError: for bytes that do not parse.
    """

    def __init__(self, crls: Iterable[Crl | bytes] = ()) -> None:
        self._by_issuer: dict[NameKey, list[Crl]] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        for c in crls:
            if isinstance(c, Crl):
                self.add(c)
            else:
                for crl in load_crls(bytes(c)):
                    self.add(crl)

    def add(self, crl: Crl) -> bool:
        """Add a CRL; returns False if the same CRL was already there."""
        with self._lock:
            if crl.fingerprint in self._seen:
                return False
            self._seen.add(crl.fingerprint)
            self._by_issuer.setdefault(crl.issuer_key, []).append(crl)
            return True

    def add_bytes(self, data: bytes) -> list[Crl]:
        """Parse DER/PEM CRL bytes and add them.

        :raises MalformedCrlError: if the data does not parse.
        """
        crls = load_crls(data)
        for c in crls:
            self.add(c)
        return crls

    def for_issuer(self, issuer: NameKey) -> list[Crl]:
        """CRLs (complete and delta) issued by ``issuer``."""
        return list(self._by_issuer.get(issuer, ()))

    def __iter__(self) -> Iterator[Crl]:
        return iter([c for lst in list(self._by_issuer.values()) for c in lst])

    def __len__(self) -> int:
        return len(self._seen)
