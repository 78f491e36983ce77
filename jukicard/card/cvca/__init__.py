"""The J-LIS CV CA public keys, bundled as data with their provenance.

A card-verifiable certificate names its issuer by key id (CAR) and does not carry the
issuer's key, so a verifier has to hold the CA keys itself (``card-security.md`` §2).
The six keys known publicly — production ``5000020`` (MF chain), ``5000023`` (券面事項確認AP),
``5000033`` (券面事項入力補助AP) and the test keys ``6000020`` / ``6000023`` / ``6000033`` —
live beside this module as hex files; ``manifest.json`` records where each came from
(repository, commit, path) and the SHA-256 of each file and of each modulus, checked when
the set is loaded (a mismatch is a :class:`~jukicard.errors.DataIntegrityError`, never a
silently different trust set)::

    from jukicard.card import cvca
    policy = cvca.policy()                     # production keys only
    policy = cvca.policy(allow_test_keys=True) # also the J-LIS test hierarchy

Decisions (``ID-n``, continued in :mod:`jukicard.card.identity`):

* ID-1 — the keys are data (hex files + manifest), never Python constants; a key that no
  public source gives is said to be missing in the manifest, never invented.  The test keys
  stay test keys (:attr:`CvCaKey.production` False): the production policy refuses them
  (CARDAUTH-3), and so it refuses pkigen's ``999…`` CV CA too.
* ID-2 — the production keys' only source is a third-party client library that gives no
  provenance for them; the manifest says so (``provenance_note``) and so does every
  :attr:`CvCaKey.provenance`.
* ID-6 (review of issue 11, CARDAUTH-6) — each bundled key carries its manifest ``level``
  as :attr:`CvCaKey.application` and ``source="bundled"``; a key passed in ``extra`` must
  say ``source="caller"`` (the default): a caller's key never reports itself as bundled.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.card.cardauth import CardAuthPolicy, CvCaKey
from jukicard.errors import DataIntegrityError, UsageError

__all__ = ["bundled_keys", "policy", "key_for", "key_matching", "MANIFEST"]

_DIRECTORY = Path(__file__).resolve().parent
#: The manifest's file name (package data).
MANIFEST = "manifest.json"
_MAX_FILE = 64 * 1024


def _read(name: str) -> bytes:
    path = _DIRECTORY / name
    try:
        with path.open("rb") as fh:
            raw = fh.read(_MAX_FILE + 1)
    except OSError as exc:
        raise DataIntegrityError(f"bundled CV CA file {name} is unreadable: "
                                 f"{exc.strerror or exc}") from None
    if len(raw) > _MAX_FILE:
        raise DataIntegrityError(f"bundled CV CA file {name} is too large")
    return raw


def _modulus(text: bytes, name: str) -> int:
    lines = [ln.strip() for ln in text.decode("ascii", "replace").splitlines()]
    hexdigits = "".join(ln for ln in lines if ln and not ln.startswith("#"))
    try:
        raw = bytes.fromhex(hexdigits)
    except ValueError:
        raise DataIntegrityError(f"bundled CV CA file {name} is not hex") from None
    if len(raw) != 256 or not raw[0] & 0x80:
        raise DataIntegrityError(f"bundled CV CA file {name} is not an RSA-2048 modulus")
    return int.from_bytes(raw, "big")


def _entry_key(entry: dict[str, Any]) -> CvCaKey:
    name = str(entry["file"])
    raw = _read(name)
    if hashlib.sha256(raw).hexdigest() != entry["file_sha256"]:
        raise DataIntegrityError(f"bundled CV CA file {name} does not match its manifest digest")
    n = _modulus(raw, name)
    if hashlib.sha256(n.to_bytes(256, "big")).hexdigest() != entry["modulus_sha256"]:
        raise DataIntegrityError(f"bundled CV CA key {name}: modulus digest mismatch")
    src = entry["source"]
    provenance = (f"{src['repository']} {src['path']} @ {src['commit'][:12]} "
                  f"({entry['provenance_note']})")
    return CvCaKey(bytes.fromhex(entry["key_id"]),
                   rsa.RSAPublicNumbers(int(entry["exponent"]), n).public_key(),
                   bool(entry["production"]), provenance,
                   application=str(entry["level"]), source="bundled")


@functools.lru_cache(maxsize=1)
def bundled_keys() -> tuple[CvCaKey, ...]:
    """Every bundled key, production first, each checked against the manifest.

    :raises DataIntegrityError: a file or the manifest is missing, damaged or altered.
    """
    try:
        manifest = json.loads(_read(MANIFEST))
        entries = manifest["keys"]
        keys = tuple(_entry_key(e) for e in entries)
    except DataIntegrityError:
        raise
    except (ValueError, KeyError, TypeError, UsageError) as exc:
        raise DataIntegrityError(f"bundled CV CA manifest is malformed "
                                 f"({type(exc).__name__})") from None
    return tuple(sorted(keys, key=lambda k: (not k.production, k.key_id)))


def key_for(key_id: bytes) -> CvCaKey | None:
    """The bundled key with this 16-byte id (CAR), or ``None``."""
    return next((k for k in bundled_keys() if k.key_id == key_id), None)


def key_matching(public_key: rsa.RSAPublicKey) -> CvCaKey | None:
    """The bundled key with these public numbers (a bare key a caller passed, CARDAUTH-7),
    or ``None``.

    :raises DataIntegrityError: the bundled set is damaged.
    """
    numbers = public_key.public_numbers()
    return next((k for k in bundled_keys() if k.public_key.public_numbers() == numbers), None)


def policy(*, allow_test_keys: bool = False, extra: tuple[CvCaKey, ...] = ()) -> CardAuthPolicy:
    """A card-authentication policy over the bundled keys.

    :param allow_test_keys: also trust the J-LIS test keys (``6…``) and test keys in
        ``extra`` (a non-production policy); the default production policy refuses them.
    :param extra: caller-given keys (e.g. pkigen's test CV CA for the emulated card).
    :raises UsageError: a test key in ``extra`` under the production policy, or a key in
        ``extra`` that says it is bundled (ID-6).
    :raises DataIntegrityError: the bundled set is damaged.
    """
    for k in extra:  # ID-6 (a bundled key itself may be passed again: CARDAUTH-5 holds)
        if isinstance(k, CvCaKey) and k.source != "caller" and not any(
                k == b and k.public_key.public_numbers() == b.public_key.public_numbers()
                for b in bundled_keys()):  # the key itself counts, not only its fields
            raise UsageError("a key in extra is the caller's: its source must be 'caller'")
    keys = tuple(k for k in bundled_keys() if allow_test_keys or k.production)
    return CardAuthPolicy(keys + tuple(extra), production=not allow_test_keys)
