"""System keys in a PKCS#11 token (issue 11, groundwork for the "jukicard protocol").

Beside ``card``; imports only :mod:`jukicard.errors` (and python-pkcs11).  Decisions:

* **Where the keys are**: :class:`TokenSettings` = module path (default SoftHSM2), token
  label (never a slot number: SoftHSM2 renumbers slots) and a :class:`PinSource` (an
  environment variable or a file, never a literal, so no PIN on a command line, in a repr or
  in a log).  :meth:`KeyStore.open` reads the PIN, checks the token offers
  :data:`REQUIRED_MECHANISMS`, logs in once and returns a :class:`KeySession`.
* **Diversification in the token**: ``K_card = AES-ECB(K_master, D)`` by
  ``CKM_AES_ECB_ENCRYPT_DATA`` (``C_DeriveKey``), ``D`` = truncated SHA-256 over a domain
  tag, the key purpose and the card identification number
  (:func:`~jukicard.keys.diversify.diversification_data`).  Chosen because SoftHSM2 2.6
  offers it (also ``AES_CBC_ENCRYPT_DATA``; it has no ``CKM_SP800_108_COUNTER_KDF``) and the
  derived key is born inside the token: no key byte ever reaches Python.  An SP 800-108 CMAC
  KDF would compute the key bytes on the host (CMAC output) and need them imported again.
  AES-ECB of one block under a secret key is a PRF of ``D``, which is what per-card keys
  need: one card's key says nothing about another's or about the master.
* **Key objects**: the master is a token object, sensitive, non-extractable, derive-only
  (:func:`jukicard.keys.init.generate_master_key`); derived keys are session objects,
  sensitive, non-extractable, encrypt/decrypt/CMAC only, gone when the session closes.
  :class:`TokenKey` holds a handle and a label, never a value.
* **Operations**: :meth:`KeySession.cmac` (AES-CMAC, SP 800-38B), ``encrypt_ecb``/
  ``decrypt_ecb``/``encrypt_cbc``/``decrypt_cbc`` on whole blocks (padding is the protocol's),
  :meth:`KeySession.random`.  python-pkcs11 errors become the ``KeyStoreError`` family of
  :mod:`jukicard.errors` naming only labels and the PKCS#11 error class.
* **Token creation**: ``python -m jukicard.keys.init`` (:mod:`jukicard.keys.init`).

NOTE (PKCS#11 limit): ``C_DeriveKey`` lets the caller choose the derived key's attributes, so
a holder of the user PIN could derive an *extractable* per-card key; SoftHSM2 allows it.  The
master key itself never leaves the token; protecting per-card keys from the PIN holder needs
a token that enforces derive templates (``CKA_DERIVE_TEMPLATE``, not in SoftHSM2 2.6).
"""

from __future__ import annotations

from jukicard.keys.diversify import DIVERSIFICATION_DOMAIN, diversification_data
from jukicard.keys.token import (
    DEFAULT_MODULE,
    REQUIRED_MECHANISMS,
    KeySession,
    KeyStore,
    PinSource,
    TokenKey,
    TokenSettings,
)

__all__ = [
    "DEFAULT_MODULE",
    "DIVERSIFICATION_DOMAIN",
    "REQUIRED_MECHANISMS",
    "KeySession",
    "KeyStore",
    "PinSource",
    "TokenKey",
    "TokenSettings",
    "diversification_data",
]
