"""Test vectors of the **jukicard protocol** (our own; NOT 住基ネット's): every intermediate
value and APDU of one run from a fixed TEST master key, card id and fixed randoms.

``python -m jukicard.testing.jpvectors [--out vectors/protocol]`` writes
``jukicard-protocol-v1.json``; ``tests/unit/test_jukicard_protocol_vectors.py`` recomputes it
from the code (and checks ``docs/jukicard-protocol.md`` quotes the same values), so the
document cannot drift.

:class:`SoftwareKeyOps` implements :class:`jukicard.card.mutual.KeyOps` with the key VALUES
in Python memory — exactly what a production terminal must never do (its keys are in a
PKCS#11 token).  Vectors and tests only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from jukicard.apdu.command import CommandApdu
from jukicard.apdu.smcodec import kdf_input
from jukicard.card.iso_sm import SM_CLA, SmCipher
from jukicard.card.mutual import (
    PURPOSES,
    KeyInfo,
    card_keys,
    derive_session_keys,
    host_cryptogram,
    kdf_context,
)
from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import ApplicationSpec, CardProfile
from jukicard.keys.diversify import diversification_data
from jukicard.testing.pkigen.protocolkeys import TEST_PROTOCOL_MASTER_KEY, protocol_files

__all__ = ["SoftwareKeyOps", "VECTOR_FILE", "compute_vectors", "vector_card", "main"]

VECTOR_FILE = "jukicard-protocol-v1.json"
CARD_ID = "TESTJUKI00000001"
RND_IFD = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")
K_IFD = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
#: the emulator's GET CHALLENGE seed for the vector card (RND.ICC and K.ICC follow from it)
CARD_SEED = 20261206
#: the plain data of the one protected READ BINARY in the vectors
SAMPLE_FILE = b"jukicard protocol test file 0123"
SAMPLE_FID = 0x0002
JUKI_AID = bytes.fromhex("D3921000310001010401")


class SoftwareKeyOps:
    """:class:`~jukicard.card.mutual.KeyOps` over key VALUES (``bytes``).  TEST ONLY.

    :param rng: source of random bytes (a fixed one for vectors).
    """

    def __init__(self, rng: Callable[[int], bytes]) -> None:
        self._rng = rng

    def __repr__(self) -> str:
        return "SoftwareKeyOps(<test keys>)"

    def diversify(self, master: bytes, card_id: bytes | str, *, purpose: str = "card-key",
                  bits: int = 128) -> bytes:
        enc = Cipher(algorithms.AES(master), modes.ECB()).encryptor()
        data = diversification_data(card_id, purpose=purpose, bits=bits)
        return enc.update(data) + enc.finalize()

    def cmac(self, key: bytes, data: bytes) -> bytes:
        c = CMAC(algorithms.AES(key))
        c.update(data)
        return c.finalize()

    def encrypt_cbc(self, key: bytes, iv: bytes, data: bytes) -> bytes:
        e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return e.update(data) + e.finalize()

    def decrypt_cbc(self, key: bytes, iv: bytes, data: bytes) -> bytes:
        d = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        return d.update(data) + d.finalize()

    def random(self, n: int) -> bytes:
        return self._rng(n)

    def destroy(self, key: bytes) -> None:
        """Nothing to destroy: the values are plain bytes."""


def vector_card() -> CardOS:
    """The emulated card of the vectors: a 住基AP with the protocol key of :data:`CARD_ID`
    and one public sample EF, GET CHALLENGE seeded."""
    from jukicard.emulator.filespecs import BinaryFileSpec

    app = ApplicationSpec("juki", JUKI_AID, (
        *protocol_files(CARD_ID), BinaryFileSpec(SAMPLE_FID, SAMPLE_FILE)))
    profile = CardProfile("jp-vectors", "synthetic TEST card of the jukicard protocol vectors",
                          "juki", (app,), challenge_seed=CARD_SEED)
    card = CardOS(profile)
    card.power_on()
    return card


def _hex(b: bytes) -> str:
    return b.hex().upper()


def _exchange(card: CardOS, cmd: CommandApdu) -> tuple[bytes, bytes]:
    raw = cmd.encode()
    return raw, card.execute(raw)


def compute_vectors() -> dict[str, Any]:
    """Run the protocol once against :func:`vector_card` with fixed inputs; every value."""
    card = vector_card()
    draws = iter((RND_IFD, K_IFD))
    ops = SoftwareKeyOps(lambda n: next(draws))
    keys = card_keys(ops, TEST_PROTOCOL_MASTER_KEY, CARD_ID)
    v: dict[str, Any] = {
        "protocol": "jukicard protocol v1 (our own; NOT 住基ネット's)",
        "note": "TEST values only: the master key is a published test key",
        "master_key": _hex(TEST_PROTOCOL_MASTER_KEY),
        "card_id": CARD_ID,
        "key_info_ef": _hex(bytes(KeyInfo(1, CARD_ID))),
    }
    for name, purpose, key in zip(("k_enc", "k_mac", "k_kdf"), PURPOSES,
                                  (keys.enc, keys.mac, keys.kdf), strict=True):
        v[f"d_{name[2:]}"] = _hex(diversification_data(CARD_ID, purpose=purpose))
        v[name] = _hex(key)
    select = CommandApdu(0x00, 0xA4, 0x04, 0x0C, JUKI_AID)
    _exchange(card, select)
    get_challenge, resp = _exchange(card, CommandApdu(0x00, 0x84, 0x00, 0x00, le=16))
    rnd_icc = resp[:-2]
    crypt = host_cryptogram(ops, keys, rnd_icc, RND_IFD, K_IFD)
    auth_cmd, auth_resp = _exchange(card, CommandApdu(0x00, 0x82, 0x00, 0x00, crypt, le=64))
    plain = ops.decrypt_cbc(keys.enc, bytes(16), auth_resp[:48])
    k_icc = plain[32:48]
    context = kdf_context(rnd_icc, RND_IFD, K_IFD, k_icc)
    v.update({
        "rnd_icc": _hex(rnd_icc), "rnd_ifd": _hex(RND_IFD), "k_ifd": _hex(K_IFD),
        "s_ifd_plain": _hex(RND_IFD + rnd_icc + K_IFD),
        "e_ifd": _hex(crypt[:48]), "m_ifd": _hex(crypt[48:]),
        "apdu_get_challenge": _hex(get_challenge), "resp_get_challenge": _hex(resp),
        "apdu_mutual_authenticate": _hex(auth_cmd), "resp_mutual_authenticate": _hex(auth_resp),
        "r_icc_plain": _hex(plain), "k_icc": _hex(k_icc),
        "kdf_context": _hex(context),
        "kdf_input_1": _hex(kdf_input(1, context)), "kdf_input_2": _hex(kdf_input(2, context)),
        "s_enc": _hex(ops.cmac(keys.kdf, kdf_input(1, context))),
        "s_mac": _hex(ops.cmac(keys.kdf, kdf_input(2, context))),
    })
    cipher: SmCipher = derive_session_keys(ops, keys, context)
    protected = []
    for ssc, plain_cmd in ((1, CommandApdu(0x00, 0xA4, 0x02, 0x0C, SAMPLE_FID.to_bytes(2, "big"))),
                           (3, CommandApdu(0x00, 0xB0, 0x00, 0x00, le=len(SAMPLE_FILE)))):
        header = bytes((SM_CLA, plain_cmd.ins, plain_cmd.p1, plain_cmd.p2))
        field = cipher.protect_command(ssc, header, plain_cmd.data, plain_cmd.le)
        wrapped = CommandApdu(SM_CLA, plain_cmd.ins, plain_cmd.p1, plain_cmd.p2, field, le=256)
        raw, answer = _exchange(card, wrapped)
        data = cipher.open_response(ssc + 1, answer[:-2], int.from_bytes(answer[-2:], "big"))
        protected.append({"ssc_command": ssc, "ssc_response": ssc + 1,
                          "plain_command": _hex(plain_cmd.encode()),
                          "apdu": _hex(raw), "response": _hex(answer),
                          "plain_response_data": _hex(data)})
    v["secure_messaging"] = protected
    return v


def main(argv: list[str] | None = None) -> int:
    """Write the vectors JSON; returns 0."""
    p = argparse.ArgumentParser(prog="python -m jukicard.testing.jpvectors")
    p.add_argument("--out", default="vectors/protocol", type=Path)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / VECTOR_FILE
    path.write_text(json.dumps(compute_vectors(), indent=1, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
