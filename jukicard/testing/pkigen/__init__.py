"""Deterministic JPKI-like test PKI, card data and emulator card profiles.

Run ``python -m jukicard.testing.pkigen [--out vectors] [--seed N] [--new-keys]``.

Everything produced is synthetic TEST material: keys, names, addresses, numbers.  The
hierarchy mimics the public facts of ``card-interface.md`` §11 (JPKI roots and end-entity
profiles), §8 (text/visual AP data formats) and §12 (住基カード).

Determinism: every random choice comes from ``random.Random(seed)`` and every date is fixed
(no ``now()``).  RSA keys cannot be seeded with ``cryptography``; they are generated once
into ``<out>/pki/keys/`` (or ``--key-dir``) and reused on later runs unless ``--new-keys``
is given.  RSA PKCS#1 v1.5 signatures are deterministic, so the same keys and seed give
byte-identical output.

One module per concern:

* :mod:`~.timeline` — the fixed dates; :mod:`~.personas` — the residents, their cards,
  wareki dates and test PIN values; :mod:`~.keys` — the key store;
* :mod:`~.names` — OIDs, DNs and file paths; :mod:`~.x509gen` — roots and end-entity
  certificates; :mod:`~.crlgen` — CRLs and ARLs;
* :mod:`~.carddata` — EF contents and CV certificates; :mod:`~.profiles` — emulator card
  profiles built from :mod:`jukicard.emulator.profile`'s dataclasses and the card facts;
* :mod:`~.manifest` — ``manifest.json`` and the validation cases; :mod:`~.readme` — the
  READMEs; :mod:`~.generator` — one run (:func:`generate`); :mod:`~.cli` — :func:`main`.

Output::

    <out>/pki/ca/*.cer        roots: auth/sign × generations 2015 (expired), 2019, 2023
    <out>/pki/ee/*.cer        end-entity auth/sign certificates of the test residents
    <out>/pki/crl/*.crl       CRLs, ARLs, a stale CRL and a CRL signed by the wrong key
    <out>/pki/cv/*.cvc        test "J-LIS" CV certificates (text and visual AP keys)
    <out>/pki/keys/*.pem      PKCS#8 PEM private keys (TEST keys, never use elsewhere)
    <out>/pki/manifest.json   every file with its role, plus residents and validation cases
    <out>/cards/*.json        emulator card profiles (format "jukicard-card-profile/1")
"""

from __future__ import annotations

from jukicard.emulator.profile import PROFILE_FORMAT
from jukicard.testing.pkigen.carddata import tiny_jp2, tiny_png
from jukicard.testing.pkigen.cli import main
from jukicard.testing.pkigen.generator import DEFAULT_SEED, generate
from jukicard.testing.pkigen.keys import KeyStore, pem
from jukicard.testing.pkigen.manifest import MANIFEST_FORMAT
from jukicard.testing.pkigen.names import (
    CA_OU,
    JLIS_OU,
    OID,
    OPERATOR_OU,
    TEST_MARKER,
    auth_crl_dp_name,
    ca_name,
    sign_crl_dp_name,
)
from jukicard.testing.pkigen.personas import (
    ATR_DEFAULT,
    ATR_EXTENDED,
    AUTH_PIN,
    FAMILY_NAMES,
    GIVEN_NAMES,
    JUKI_PIN,
    JUKI_SIGN_PASSWORD,
    PLACES,
    SIGN_PASSWORD,
    TEXT_PIN,
    Resident,
    nth_birthday_after,
    wareki,
    wareki_yymmdd,
)
from jukicard.testing.pkigen.timeline import (
    CRL_NEXT_UPDATE,
    CRL_THIS_UPDATE,
    GENERATIONS,
    ISSUANCE_DATE,
    R2_REVOKED_AT,
    REFERENCE_TIME,
    STALE_NEXT_UPDATE,
    STALE_THIS_UPDATE,
    UTC,
)
from jukicard.testing.pkigen.x509gen import CaInfo

__all__ = [
    "DEFAULT_SEED",
    "REFERENCE_TIME",
    "ISSUANCE_DATE",
    "CRL_THIS_UPDATE",
    "CRL_NEXT_UPDATE",
    "STALE_THIS_UPDATE",
    "STALE_NEXT_UPDATE",
    "R2_REVOKED_AT",
    "GENERATIONS",
    "UTC",
    "OID",
    "TEST_MARKER",
    "JLIS_OU",
    "CA_OU",
    "OPERATOR_OU",
    "ca_name",
    "sign_crl_dp_name",
    "auth_crl_dp_name",
    "PROFILE_FORMAT",
    "MANIFEST_FORMAT",
    "ATR_DEFAULT",
    "ATR_EXTENDED",
    "PLACES",
    "FAMILY_NAMES",
    "GIVEN_NAMES",
    "AUTH_PIN",
    "SIGN_PASSWORD",
    "TEXT_PIN",
    "JUKI_SIGN_PASSWORD",
    "JUKI_PIN",
    "Resident",
    "CaInfo",
    "wareki",
    "wareki_yymmdd",
    "nth_birthday_after",
    "tiny_png",
    "tiny_jp2",
    "KeyStore",
    "pem",
    "generate",
    "main",
]
