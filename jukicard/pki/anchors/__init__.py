"""The production JPKI trust anchors: the J-LIS root CA certificates, shipped as package data.

The certificates (PEM, byte for byte as published by jpki/myna) and ``manifest.json`` (their
SHA-256 fingerprints and provenance; ``README.md`` beside them tells the story) live in this
package's directory.  Every file's SHA-256, and the SHA-256 of the certificate inside it,
are checked against the manifest when the set is loaded: a mismatch is an
:class:`AnchorIntegrityError`, never a silently different trust store::

    from jukicard.pki import anchors
    anchors.load()                         # every bundled root (auth and sign, all generations)
    anchors.load(kind="sign", generation=2023)
    anchors.is_production(cert)            # a production J-LIS anchor?

A **production anchor** is a certificate whose SHA-256 (over its DER encoding) is one of the
manifest's fingerprints: a bundled root, or a generation known only by the fingerprint J-LIS
publishes (the 2019 sign root: no public copy was found, so a copy the user supplies is
accepted as production only if it hashes to J-LIS's value), or one of the fingerprints the
caller names (a generation newer than this release).  Every other certificate used as a trust
anchor is a **test anchor**: the generated test PKI, the emulator's CA, a re-signed copy of a
real root.  :meth:`jukicard.pki.policy.ValidationPolicy.jpki` refuses test anchors unless
``allow_test_anchors=True``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jukicard.errors import UsageError, ValidationError
from jukicard.pki.certs import Certificate, load_certificates
from jukicard.pki.errors import PkiError
from jukicard.pki.reasons import Reason

__all__ = [
    "KINDS",
    "AnchorIntegrityError",
    "ProductionAnchor",
    "AnchorSet",
    "bundled",
    "load",
    "is_production",
    "production_fingerprints",
    "normalise_fingerprint",
]

#: The two JPKI hierarchies: 署名用 (sign) and 利用者証明用 (auth).
KINDS = ("sign", "auth")

_DIRECTORY = Path(__file__).resolve().parent
_MANIFEST = "manifest.json"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: Largest anchor file or manifest read (the real ones are about 2 KiB).
_MAX_FILE = 64 * 1024


class AnchorIntegrityError(PkiError):
    """A bundled trust-anchor file or the manifest does not match what the manifest
    records (the installation is damaged or was altered): nothing is trusted from it.

    :ivar file: the file at fault (a name inside the anchors directory).
    """

    reason = Reason.ANCHOR_INTEGRITY

    def __init__(self, message: str, file: str) -> None:
        self.file = file
        super().__init__(message)


def normalise_fingerprint(value: str) -> str:
    """A SHA-256 fingerprint as 64 lower-case hex digits (``AB:CD…`` and spaces allowed).

    :raises UsageError: not 32 bytes of hex.
    """
    text = re.sub(r"[\s:]", "", str(value)).lower()
    if not _HEX64.match(text):
        raise UsageError(f"{value!r} is not a SHA-256 fingerprint (64 hex digits, colons "
                         "allowed)")
    return text


@dataclass(frozen=True)
class ProductionAnchor:
    """One J-LIS root of the manifest.

    :ivar id: ``"jlis-sign-2023"``.
    :ivar kind: ``"sign"`` or ``"auth"``.
    :ivar generation: the year of the generation (2015, 2019, 2023).
    :ivar sha256: SHA-256 of the DER certificate (lower-case hex).
    :ivar sha256_source: ``"j-lis"`` (equals the value J-LIS publishes) or ``"computed"``
        (computed from the bundled file only).
    :ivar certificate: the bundled certificate, or ``None`` for a generation known only by
        its published fingerprint.
    """

    id: str
    kind: str
    generation: int
    sha256: str
    sha256_source: str
    certificate: Certificate | None


def _read(directory: Path, name: str) -> bytes:
    path = directory / name
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_FILE + 1)
    except OSError as exc:
        raise AnchorIntegrityError(f"bundled trust-anchor file {name} cannot be read "
                                   f"({exc.strerror or type(exc).__name__})", name) from exc
    if len(data) > _MAX_FILE:
        raise AnchorIntegrityError(f"bundled trust-anchor file {name} is too large", name)
    return data


def _entry(directory: Path, raw: Any) -> ProductionAnchor:
    """One manifest entry, its file (if any) checked against it.

    :raises AnchorIntegrityError: a malformed entry, a file whose SHA-256 or certificate
        fingerprint differs from the manifest.
    """
    try:
        ident, kind, generation = str(raw["id"]), raw["kind"], raw["generation"]
        sha256, source, file = raw["sha256"], raw["sha256_source"], raw["file"]
        file_sha256 = raw.get("file_sha256")
        ok = (kind in KINDS and isinstance(generation, int) and isinstance(sha256, str)
              and bool(_HEX64.match(sha256)) and source in ("j-lis", "computed")
              and (file is None or (isinstance(file, str) and "/" not in file
                                    and isinstance(file_sha256, str))))
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnchorIntegrityError(f"{_MANIFEST}: malformed anchor entry", _MANIFEST) from exc
    if not ok:
        raise AnchorIntegrityError(f"{_MANIFEST}: malformed anchor entry {ident!r}", _MANIFEST)
    cert = None
    if file is not None:
        data = _read(directory, file)
        if hashlib.sha256(data).hexdigest() != file_sha256:
            raise AnchorIntegrityError(f"bundled trust-anchor file {file} does not match its "
                                       f"SHA-256 in {_MANIFEST} (the installation is damaged "
                                       "or was altered)", file)
        try:
            certs = load_certificates(data)
        except ValidationError as exc:
            raise AnchorIntegrityError(f"bundled trust-anchor file {file} is not a "
                                       "certificate", file) from exc
        if len(certs) != 1 or certs[0].fingerprint != sha256:
            raise AnchorIntegrityError(f"bundled trust-anchor file {file} does not hold the "
                                       f"certificate {_MANIFEST} names ({ident})", file)
        cert = certs[0]
    return ProductionAnchor(ident, kind, generation, sha256, source, cert)


@dataclass(frozen=True)
class AnchorSet:
    """The production anchors of one manifest (:func:`bundled` is the package's own).

    :ivar anchors: every manifest entry, in manifest order.
    """

    anchors: tuple[ProductionAnchor, ...]

    @classmethod
    def from_directory(cls, directory: str | Path) -> AnchorSet:
        """Read ``manifest.json`` in ``directory`` and check every file it names.

        :raises AnchorIntegrityError: a missing, unreadable or malformed manifest; a file
            that is missing or differs from the manifest; two entries with one id or one
            fingerprint.
        """
        root = Path(directory)
        try:
            manifest = json.loads(_read(root, _MANIFEST).decode("utf-8"))
            entries = manifest["anchors"]
            if not isinstance(entries, list):
                raise TypeError("anchors is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorIntegrityError(f"{_MANIFEST} is malformed", _MANIFEST) from exc
        anchors = tuple(_entry(root, raw) for raw in entries)
        for attr in ("id", "sha256"):
            values = [getattr(a, attr) for a in anchors]
            if len(set(values)) != len(values):
                raise AnchorIntegrityError(f"{_MANIFEST} lists one {attr} twice", _MANIFEST)
        return cls(anchors)

    @property
    def fingerprints(self) -> frozenset[str]:
        """The SHA-256 fingerprints of every production anchor (bundled or not)."""
        return frozenset(a.sha256 for a in self.anchors)

    def select(self, kind: str | None = None, generation: int | None = None
               ) -> tuple[ProductionAnchor, ...]:
        """The entries of one kind and/or generation (``None`` = any).

        :raises UsageError: an unknown ``kind``.
        """
        if kind is not None and kind not in KINDS:
            raise UsageError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        return tuple(a for a in self.anchors if (kind is None or a.kind == kind)
                     and (generation is None or a.generation == generation))

    def certificates(self, kind: str | None = None, generation: int | None = None
                     ) -> tuple[Certificate, ...]:
        """The bundled certificates of one kind and/or generation (``None`` = any);
        generations known only by fingerprint have none.

        :raises UsageError: an unknown ``kind``.
        """
        return tuple(a.certificate for a in self.select(kind, generation)
                     if a.certificate is not None)

    def find(self, cert: Certificate) -> ProductionAnchor | None:
        """The entry whose fingerprint is ``cert``'s, or ``None`` (a test anchor)."""
        return next((a for a in self.anchors if a.sha256 == cert.fingerprint), None)


@functools.lru_cache(maxsize=1)
def bundled() -> AnchorSet:
    """The anchors shipped with jukicard (read and checked once per process).

    :raises AnchorIntegrityError: see :meth:`AnchorSet.from_directory`.
    """
    return AnchorSet.from_directory(_DIRECTORY)


def load(kind: str | None = None, generation: int | None = None) -> tuple[Certificate, ...]:
    """The bundled J-LIS root certificates of one kind and/or generation (``None`` = any).

    :param kind: ``"sign"`` or ``"auth"``.
    :param generation: a year (2015, 2023…).
    :raises AnchorIntegrityError: the bundled files differ from the manifest.
    :raises UsageError: an unknown ``kind``.
    """
    return bundled().certificates(kind, generation)


def production_fingerprints(extra: Iterable[str] = ()) -> frozenset[str]:
    """The fingerprints of the production anchors, plus ``extra`` (normalised).

    :raises UsageError: an ``extra`` value that is not a SHA-256 fingerprint.
    """
    return bundled().fingerprints | {normalise_fingerprint(f) for f in extra}


def is_production(cert: Certificate, extra: Iterable[str] = ()) -> bool:
    """Whether ``cert`` is a production J-LIS anchor (see the module docstring): its SHA-256
    is in the manifest or in ``extra`` (fingerprints the caller declares production).

    :raises UsageError: an ``extra`` value that is not a SHA-256 fingerprint.
    """
    return cert.fingerprint in production_fingerprints(extra)
