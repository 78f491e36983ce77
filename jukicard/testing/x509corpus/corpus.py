"""Build the corpus (:data:`~.cases.CASES` encoded with the test keys) and write it out.

Deterministic: fixed dates and serials, RSA PKCS#1 v1.5 signatures, keys loaded from
``vectors/x509corpus/keys`` (generated there once by :class:`~jukicard.testing.pkigen.KeyStore`
if missing).  Written layout, one folder per case::

    <out>/<case id>/anchor.pem        the trust anchor
    <out>/<case id>/untrusted.pem     the intermediate and any CRL signer (if there are)
    <out>/<case id>/target.pem        the certificate to validate
    <out>/<case id>/crl.pem           the root's CRL (CRL cases only)
    <out>/manifest.json               every case: id, rule, RFC section, expected outcome,
                                      validation time, files, notes on peers
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.testing.pkigen.keys import KeyStore
from jukicard.testing.x509corpus.cases import CASES, CaseDef
from jukicard.testing.x509corpus.chain import KEY_NAMES, base_chain
from jukicard.testing.x509corpus.encode import encode_cert, encode_crl

__all__ = ["Case", "CaseFiles", "load_keys", "build_corpus", "write_corpus", "pem"]

MANIFEST_FORMAT = "jukicard-x509corpus/1"


@dataclass(frozen=True)
class Case:
    """One encoded case (see :class:`~.cases.CaseDef` for the meaning of the fields).

    :ivar certs: DER certificates, trust anchor first, target last.
    :ivar crl: DER of the root's CRL (CRL cases only).
    :ivar others: DER of untrusted certificates off the path (a separate CRL signer).
    """

    id: str
    rule: str
    rfc: str
    what: str
    valid: bool
    certs: tuple[bytes, ...]
    crl: bytes | None
    at: _dt.datetime
    notes: Mapping[str, str] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    others: tuple[bytes, ...] = ()

    @property
    def anchor(self) -> bytes:
        """The trust anchor's DER."""
        return self.certs[0]

    @property
    def untrusted(self) -> tuple[bytes, ...]:
        """What a verifier gets besides anchor and target: the path's intermediates, then
        the certificates off the path (may be empty)."""
        return self.certs[1:-1] + self.others

    @property
    def target(self) -> bytes:
        """The DER of the certificate to validate."""
        return self.certs[-1]


@dataclass(frozen=True)
class CaseFiles:
    """Where :func:`write_corpus` put one case's files (``untrusted``/``crl`` may be None)."""

    anchor: Path
    untrusted: Path | None
    target: Path
    crl: Path | None


def load_keys(key_dir: Path | str) -> dict[str, rsa.RSAPrivateKey]:
    """The corpus keys by :data:`~.chain.KEY_NAMES` (RSA-2048 TEST keys).

    :param key_dir: the key folder, normally ``vectors/x509corpus/keys``.
    :raises ValueError: a stored key is not RSA-2048.
    """
    store = KeyStore(Path(key_dir))
    return {name: store.get(name, 2048) for name in KEY_NAMES}


def _encode(d: CaseDef, keys: dict[str, rsa.RSAPrivateKey]) -> Case:
    chain = d.edit(base_chain(d.shape, keys, crl=d.crl))
    certs = tuple(encode_cert(spec, keys) for spec in chain.certs)
    crl = encode_crl(chain.crl, keys) if chain.crl is not None else None
    return Case(id=d.id, rule=d.rule, rfc=d.rfc, what=d.what, valid=d.valid, certs=certs,
                crl=crl, at=d.at, notes=dict(d.notes), reasons=d.reasons,
                others=tuple(encode_cert(spec, keys) for spec in chain.others))


def build_corpus(key_dir: Path | str, defs: Iterable[CaseDef] = CASES) -> list[Case]:
    """Encode every case.

    :param key_dir: see :func:`load_keys`.
    :param defs: the case definitions (default: all of :data:`~.cases.CASES`).
    :raises ValueError: two cases share an id.
    """
    keys = load_keys(key_dir)
    out = [_encode(d, keys) for d in defs]
    ids = [c.id for c in out]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate case ids in the corpus")
    return out


def pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    """PEM armour for ``der``."""
    return asn1_pem.armor(label, der)


def write_corpus(cases: Iterable[Case], out: Path | str) -> dict[str, CaseFiles]:
    """Write every case as PEM files plus ``manifest.json`` (layout: module docstring).

    :returns: the files of each case, by case id.
    """
    root = Path(out)
    files: dict[str, CaseFiles] = {}
    manifest = []
    for case in cases:
        d = root / case.id
        d.mkdir(parents=True, exist_ok=True)
        anchor, target = d / "anchor.pem", d / "target.pem"
        anchor.write_bytes(pem(case.anchor))
        target.write_bytes(pem(case.target))
        untrusted = crl = None
        if case.untrusted:
            untrusted = d / "untrusted.pem"
            untrusted.write_bytes(b"".join(pem(c) for c in case.untrusted))
        if case.crl is not None:
            crl = d / "crl.pem"
            crl.write_bytes(pem(case.crl, "X509 CRL"))
        files[case.id] = CaseFiles(anchor, untrusted, target, crl)
        manifest.append({
            "id": case.id, "rule": case.rule, "rfc": case.rfc, "what": case.what,
            "expected": "valid" if case.valid else "invalid",
            "at": case.at.isoformat(),
            "files": {k: str(v.relative_to(root)) for k, v in
                      (("anchor", anchor), ("untrusted", untrusted), ("target", target),
                       ("crl", crl)) if v is not None},
            "notes": dict(case.notes),
            "reasons": list(case.reasons),
        })
    (root / "manifest.json").write_text(
        json.dumps({"format": MANIFEST_FORMAT, "cases": manifest}, indent=1,
                   ensure_ascii=False) + "\n", encoding="utf-8")
    return files
