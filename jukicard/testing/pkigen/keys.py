"""The deterministic key store: RSA test keys generated once and reused afterwards.

RSA keys cannot be seeded with ``cryptography``; they are generated once into a directory
and loaded from there on later runs.  RSA PKCS#1 v1.5 signatures are deterministic, so the
same keys and seed give byte-identical output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["KeyStore", "PublishedKeys", "pem", "key_path"]

log = logging.getLogger(__name__)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (test keys only)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def key_path(name: str) -> str:
    """Where key ``name`` is published, relative to the ``pki/`` folder."""
    return f"keys/{name}.pem"


class KeyStore:
    """RSA test keys, generated once into a directory and reused afterwards.

    :param key_dir: where the PKCS#8 PEM files live.
    :param new_keys: regenerate every key used in this run (once per run).
    """

    def __init__(self, key_dir: Path, *, new_keys: bool = False) -> None:
        self.key_dir = Path(key_dir)
        self.new_keys = new_keys
        self._cache: dict[str, rsa.RSAPrivateKey] = {}
        self.generated: list[str] = []

    def path(self, name: str) -> Path:
        """The PEM file of key ``name``."""
        return self.key_dir / f"{name}.pem"

    def get(self, name: str, bits: int = 2048) -> rsa.RSAPrivateKey:
        """Load key ``name`` or generate it (RSA, e=65537).

        :param name: the key's name (its file name without ``.pem``).
        :param bits: the modulus size the key must have.
        :raises ValueError: the stored key has another size than ``bits``.
        """
        if name in self._cache:
            return self._cache[name]
        path = self.path(name)
        key: rsa.RSAPrivateKey
        if path.exists() and not self.new_keys:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size != bits:
                raise ValueError(f"stored test key {name} is not RSA-{bits}; use --new-keys")
            key = loaded
        else:
            log.info("generating RSA-%d test key %s", bits, name)
            key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pem(key))
            self.generated.append(name)
        self._cache[name] = key
        return key


@dataclass(frozen=True)
class PublishedKeys:
    """A :class:`KeyStore` whose keys, once used, are also written to the output's
    ``pki/keys`` folder (the vectors ship every key they use).

    :ivar store: where keys come from.
    :ivar publish_dir: the output's key folder (may be the store's own folder).
    """

    store: KeyStore
    publish_dir: Path

    def get(self, name: str, bits: int = 2048) -> rsa.RSAPrivateKey:
        """Key ``name`` (see :meth:`KeyStore.get`), published to :attr:`publish_dir`.

        :raises ValueError: the stored key has another size than ``bits``.
        """
        key = self.store.get(name, bits)
        dest = self.publish_dir / f"{name}.pem"
        if dest.resolve() != self.store.path(name).resolve():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(pem(key))
        return key
