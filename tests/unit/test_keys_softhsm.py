"""jukicard.keys against a real SoftHSM2 token the fixture creates (no mocks).

The shared fixture (``softhsm_token``, tests/softhsm_support.py) makes one throwaway token per
test session in a temporary ``SOFTHSM2_CONF``
directory (SoftHSM2 reads its configuration once per process, when the module loads), with

* ``demo-master``: a master key with a KNOWN value (``import_demo_master_key``), so the
  expected per-card keys can be computed independently with ``cryptography``;
* ``gen-master``: a master key generated inside the token (value unknown to anyone);
* ``nist-sp800-38b``: the NIST SP 800-38B / 800-38A example key, stored by the test itself
  with sign/encrypt rights, for the published known-answer vectors.

Skipped where SoftHSM2 is not installed, except in CI (``CI`` set), where that fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from pkcs11 import Attribute
from pkcs11 import exceptions as p11e
from softhsm_support import DEMO_MASTER, LABEL, PIN, PIN_ENV, SO_PIN, need_softhsm

from jukicard.errors import (
    KeyNotFoundError,
    KeyOperationError,
    KeyStorePinIncorrectError,
    KeyStorePinMissingError,
    KeyStoreUnavailableError,
    MechanismUnsupportedError,
    UsageError,
)
from jukicard.keys import (
    KeySession,
    KeyStore,
    PinSource,
    TokenSettings,
    diversification_data,
)

ROOT = Path(__file__).resolve().parents[2]
NIST_MSG = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)


@pytest.fixture(scope="session")
def token(softhsm_token: TokenSettings) -> TokenSettings:
    """The run's shared token (``tests/softhsm_support.py``, which documents its keys)."""
    return softhsm_token


@pytest.fixture
def session(token: TokenSettings) -> Iterator[KeySession]:
    with KeyStore.open(token) as s:
        yield s


def _card_key(card_id: str, purpose: str = "card-key") -> bytes:
    """The per-card key computed OUTSIDE the token from the known demo master key."""
    enc = Cipher(algorithms.AES(DEMO_MASTER), modes.ECB()).encryptor()
    return enc.update(diversification_data(card_id, purpose=purpose)) + enc.finalize()


# --------------------------------------------------------------------------- diversification
def test_diversification_is_deterministic_per_card_and_differs_across_cards(
    session: KeySession,
) -> None:
    master = session.key("gen-master")
    block = bytes(16)

    def probe(card_id: str, purpose: str = "card-key") -> bytes:
        return session.encrypt_ecb(session.diversify(master, card_id, purpose=purpose), block)

    assert probe("AB12345678901234") == probe("AB12345678901234")
    assert probe("AB12345678901234") != probe("AB12345678901235")
    assert probe("AB12345678901234", "auth-enc") != probe("AB12345678901234", "auth-mac")


def test_derived_key_matches_cryptography_known_master(session: KeySession) -> None:
    """Known answer: the token's per-card key is AES-ECB(master, D); CMAC, ECB and CBC under
    it equal ``cryptography``'s with that key computed on the host from the demo master."""
    card = session.diversify(session.key("demo-master"), "JK0000000042", purpose="auth-mac")
    k = _card_key("JK0000000042", "auth-mac")
    data = bytes(range(40))
    mac = CMAC(algorithms.AES(k))
    mac.update(data)
    assert session.cmac(card, data) == mac.finalize()
    plain, iv = bytes(range(32)), bytes(range(100, 116))
    ecb = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    assert session.encrypt_ecb(card, plain) == ecb.update(plain) + ecb.finalize()
    cbc = Cipher(algorithms.AES(k), modes.CBC(iv)).encryptor()
    cipher = cbc.update(plain) + cbc.finalize()
    assert session.encrypt_cbc(card, iv, plain) == cipher
    assert session.decrypt_cbc(card, iv, cipher) == plain
    assert session.decrypt_ecb(card, session.encrypt_ecb(card, plain)) == plain


def test_256_bit_derivation_matches_cryptography(session: KeySession) -> None:
    card = session.diversify(session.key("demo-master"), b"card-7", bits=256)
    enc = Cipher(algorithms.AES(DEMO_MASTER), modes.ECB()).encryptor()
    k = enc.update(diversification_data(b"card-7", bits=256)) + enc.finalize()
    mac = CMAC(algorithms.AES(k))
    mac.update(b"x")
    assert session.cmac(card, b"x") == mac.finalize()


@pytest.mark.parametrize(
    ("message", "tag"),
    [
        (b"", "bb1d6929e95937287fa37d129b756746"),
        (NIST_MSG[:16], "070a16b46b4d4144f79bdd9dd04a287c"),
        (NIST_MSG[:40], "dfa66747de9ae63030ca32611497c827"),
        (NIST_MSG, "51f0bebf7e3b9d92fc49741779363cfe"),
    ],
)
def test_cmac_nist_sp800_38b_examples(session: KeySession, message: bytes, tag: str) -> None:
    assert session.cmac(session.key("nist-sp800-38b"), message).hex() == tag


def test_ecb_nist_sp800_38a_f11(session: KeySession) -> None:
    key = session.key("nist-sp800-38b")
    out = session.encrypt_ecb(key, NIST_MSG[:16])
    assert out.hex() == "3ad77bb40d7a3660a89ecaf32466ef97"


# --------------------------------------------------------------------------- key protection
def test_master_key_never_leaves_the_token_and_derives_only(session: KeySession) -> None:
    master = session.key("demo-master")
    assert master._key[Attribute.SENSITIVE] and not master._key[Attribute.EXTRACTABLE]
    with pytest.raises(p11e.AttributeSensitive):
        master._key[Attribute.VALUE]
    with pytest.raises(KeyOperationError):
        session.cmac(master, b"data")  # derive-only: no MAC or cipher with the master itself
    assert repr(master) == "TokenKey(label='demo-master', derived=False)"


def test_derived_keys_are_sensitive_session_objects(token: TokenSettings) -> None:
    with KeyStore.open(token) as s:
        card = s.diversify(s.key("gen-master"), "JK1")
        assert card._key[Attribute.TOKEN] is False
        assert card._key[Attribute.SENSITIVE] and not card._key[Attribute.EXTRACTABLE]
        with pytest.raises(p11e.AttributeSensitive):
            card._key[Attribute.VALUE]
    with pytest.raises(KeyOperationError):
        s.cmac(card, b"after close")  # the session (and its derived keys) is gone


def test_random_bytes(session: KeySession) -> None:
    a, b = session.random(32), session.random(32)
    assert len(a) == 32 and a != b
    with pytest.raises(UsageError):
        session.random(0)


# --------------------------------------------------------------------------- errors
def test_wrong_pin_is_typed_and_not_echoed(token: TokenSettings,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PIN_ENV, "000000")
    with pytest.raises(KeyStorePinIncorrectError) as exc:
        KeyStore.open(token)
    assert "000000" not in str(exc.value) and PIN not in str(exc.value)


def test_no_pin_configured(token: TokenSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PIN_ENV)
    with pytest.raises(KeyStorePinMissingError, match=PIN_ENV):
        KeyStore.open(token)


def test_pin_from_file(token: TokenSettings, tmp_path: Path) -> None:
    (tmp_path / "pin").write_text(PIN + "\n")
    with KeyStore.open(TokenSettings(LABEL, PinSource(file=tmp_path / "pin"))) as s:
        assert len(s.random(4)) == 4
    with pytest.raises(KeyStorePinMissingError):
        KeyStore.open(TokenSettings(LABEL, PinSource(file=tmp_path / "absent")))


def test_missing_key(session: KeySession) -> None:
    with pytest.raises(KeyNotFoundError, match="no-such-key"):
        session.key("no-such-key")


def test_missing_token(token: TokenSettings) -> None:
    with pytest.raises(KeyStoreUnavailableError, match="no token labelled"):
        KeyStore.open(TokenSettings("no-such-token", token.pin))


def test_missing_module(token: TokenSettings, tmp_path: Path) -> None:
    with pytest.raises(KeyStoreUnavailableError, match="does not exist"):
        KeyStore.open(TokenSettings(LABEL, token.pin, tmp_path / "absent.so"))
    (tmp_path / "junk.so").write_bytes(b"not a shared object")
    with pytest.raises(KeyStoreUnavailableError, match="could not be loaded"):
        KeyStore.open(TokenSettings(LABEL, token.pin, tmp_path / "junk.so"))


def test_mechanism_unsupported(token: TokenSettings) -> None:
    """SoftHSM2 2.6 has no ECDSA_SHA256 (virtual-card-stack.md §9)."""
    with pytest.raises(MechanismUnsupportedError) as exc:
        KeyStore.open(token, required=("AES_CMAC", "ECDSA_SHA256"))
    assert exc.value.mechanisms == ("ECDSA_SHA256",)


def test_bad_inputs_are_usage_errors(session: KeySession) -> None:
    key = session.key("nist-sp800-38b")
    with pytest.raises(UsageError):
        session.encrypt_ecb(key, bytes(15))
    with pytest.raises(UsageError):
        session.encrypt_cbc(key, bytes(8), bytes(16))
    with pytest.raises(UsageError):
        session.diversify(session.key("gen-master"), "")
    with pytest.raises(UsageError):
        session.diversify(session.key("gen-master"), "JK1", purpose="Bad Purpose")
    with pytest.raises(UsageError):
        PinSource()


def test_settings_reprs_hold_no_pin(token: TokenSettings) -> None:
    text = repr(token) + repr(token.pin)
    assert PIN not in text and PIN_ENV in text


# --------------------------------------------------------------------------- the init command
def test_init_command_creates_a_token_with_generated_master_keys(tmp_path: Path) -> None:
    """``python -m jukicard.keys.init`` in a fresh directory, then a second process opens the
    token with the printed SOFTHSM2_CONF and derives from each master; a second init in the
    same directory is refused.  The PINs appear in no output."""
    need_softhsm()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUKICARD_PKCS11_PIN": PIN,
           "JUKICARD_PKCS11_SO_PIN": SO_PIN}
    env.pop("SOFTHSM2_CONF", None)
    argv = [sys.executable, "-m", "jukicard.keys.init", "--dir", str(tmp_path / "hsm"),
            "--label", "demo", "--master", "m1", "--master", "m2"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert PIN not in done.stdout + done.stderr and SO_PIN not in done.stdout + done.stderr
    export = done.stdout.strip().splitlines()[-1]
    assert export.startswith("export SOFTHSM2_CONF=")
    check = textwrap.dedent("""
        from pkcs11 import Attribute
        from jukicard.keys import KeyStore, PinSource, TokenSettings
        with KeyStore.open(TokenSettings("demo", PinSource(env="JUKICARD_PKCS11_PIN"))) as s:
            for label in ("m1", "m2"):
                m = s.key(label)
                assert m._key[Attribute.TOKEN] and not m._key[Attribute.EXTRACTABLE]
                assert len(s.cmac(s.diversify(m, "JK9"), b"x")) == 16
        print("ok")
    """)
    env["SOFTHSM2_CONF"] = export.split("=", 1)[1]
    opened = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True,
                            text=True, timeout=120)
    assert opened.stdout.strip() == "ok", opened.stderr
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "already holds a token" in again.stderr


def test_init_command_without_pins_fails_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUKICARD_PKCS11")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "jukicard.keys.init", "--dir", str(tmp_path / "hsm")],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and "JUKICARD_PKCS11_PIN" in done.stderr
    assert not (tmp_path / "hsm").exists()
