"""The one throwaway SoftHSM2 token of a test run (shared by every test that needs a token).

SoftHSM2 reads ``SOFTHSM2_CONF`` once per process, when the module is first loaded, so a
pytest run can see only ONE token directory: every test that needs a token uses the
session fixture ``softhsm_token`` (``tests/conftest.py``), which builds it with
:func:`build_token`.  Its keys:

* ``demo-master``: a master key with a KNOWN value (``import_demo_master_key``), so expected
  per-card keys can be computed independently with ``cryptography``;
* ``gen-master``: a master key generated inside the token (value unknown to anyone);
* ``nist-sp800-38b``: the NIST SP 800-38B / 800-38A example key, with sign/encrypt rights;
* :data:`PROTOCOL_MASTER_LABEL`: the jukicard protocol's TEST master key (pkigen's
  ``TEST_PROTOCOL_MASTER_KEY``: the emulated test cards hold the keys it diversifies to);
* :data:`WRONG_MASTER_LABEL`: another known master (a terminal with the wrong master key).

Skipped where SoftHSM2 is not installed, except in CI (``CI`` set), where that fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from pkcs11 import Attribute, KeyType, ObjectClass

from jukicard.keys import DEFAULT_MODULE, KeyStore, PinSource, TokenSettings
from jukicard.keys.init import (
    generate_master_key,
    import_demo_master_key,
    init_softhsm_token,
    write_softhsm_conf,
)
from jukicard.testing.pkigen.protocolkeys import TEST_PROTOCOL_MASTER_KEY

LABEL = "jukicard-unit"
PIN = "735160"
SO_PIN = "91827364"
PIN_ENV = "JUKICARD_TEST_KEYS_PIN"
DEMO_MASTER = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
NIST_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
PROTOCOL_MASTER_LABEL = "jukicard-protocol-master"
WRONG_MASTER_LABEL = "wrong-protocol-master"
WRONG_MASTER = bytes(range(100, 132))


def need_softhsm() -> None:
    """Skip (fail in CI) where SoftHSM2 is not installed."""
    if shutil.which("softhsm2-util") is None or not DEFAULT_MODULE.is_file():
        if os.environ.get("CI"):
            pytest.fail("SoftHSM2 is not installed (.ci/install)")
        pytest.skip("SoftHSM2 is not installed")


def build_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenSettings]:
    """Create the token, set ``SOFTHSM2_CONF`` and the PIN variable for the run, yield its
    settings."""
    need_softhsm()
    conf = write_softhsm_conf(tmp_path_factory.mktemp("softhsm"))
    init_softhsm_token(conf, LABEL, user_pin=PIN, so_pin=SO_PIN)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        mp.setenv(PIN_ENV, PIN)
        settings = TokenSettings(LABEL, PinSource(env=PIN_ENV))
        with KeyStore.open(settings, rw=True) as s:
            import_demo_master_key(s, "demo-master", DEMO_MASTER)
            generate_master_key(s, "gen-master")
            s._live().create_object({
                Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                Attribute.LABEL: "nist-sp800-38b", Attribute.VALUE: NIST_KEY,
                Attribute.TOKEN: True, Attribute.SIGN: True, Attribute.ENCRYPT: True,
                Attribute.DECRYPT: True,
            })
            import_demo_master_key(s, PROTOCOL_MASTER_LABEL, TEST_PROTOCOL_MASTER_KEY)
            import_demo_master_key(s, WRONG_MASTER_LABEL, WRONG_MASTER)
        yield settings
