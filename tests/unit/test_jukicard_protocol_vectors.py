"""The jukicard protocol's test vectors (``vectors/protocol/``; our own protocol, NOT
住基ネット's): recomputed from the code, recomputed independently with ``cryptography``
from the formulas in ``docs/jukicard-protocol.md``, quoted by that page, and reproduced by a
real SoftHSM2 token holding the TEST master key."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from softhsm_support import PROTOCOL_MASTER_LABEL

from jukicard.apdu.smcodec import pad, unpad
from jukicard.card.iso_sm import SmCipher
from jukicard.card.mutual import card_keys, derive_session_keys, host_cryptogram, kdf_context
from jukicard.errors import JukicardSecureMessagingError
from jukicard.keys import KeyStore, TokenSettings
from jukicard.testing.jpvectors import VECTOR_FILE, compute_vectors

ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads(
    (ROOT / "vectors/protocol" / VECTOR_FILE).read_text(encoding="utf-8"))
H = bytes.fromhex


def _hexes(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _hexes(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _hexes(v)
    elif isinstance(obj, str) and re.fullmatch(r"(?:[0-9A-F]{2})+", obj):
        yield obj


def _cmac(key: bytes, data: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def _aes(key: bytes, mode: Any, data: bytes, *, encrypt: bool = True) -> bytes:
    c = Cipher(algorithms.AES(key), mode)
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


def test_vectors_file_is_what_the_code_computes() -> None:
    assert compute_vectors() == VECTORS


def test_the_document_quotes_every_vector() -> None:
    doc = re.sub(r"\s+", "", (ROOT / "docs/jukicard-protocol.md").read_text(encoding="utf-8"))
    missing = [v for v in _hexes(VECTORS) if v not in doc]
    assert not missing


def test_vectors_follow_the_documented_formulas_independently() -> None:
    """Every step from the page's formulas with ``cryptography`` alone (no jukicard crypto)."""
    v = VECTORS
    master, card_id = H(v["master_key"]), v["card_id"].encode()
    for purpose, name in (("jp1-enc", "k_enc"), ("jp1-mac", "k_mac"), ("jp1-kdf", "k_kdf")):
        d = hashlib.sha256(b"jukicard-div-v1\x00" + purpose.encode() + b"\x00" + card_id)
        assert d.digest()[:16] == H(v["d_" + name[2:]])
        assert _aes(master, modes.ECB(), d.digest()[:16]) == H(v[name])
    k_enc, k_mac, k_kdf = H(v["k_enc"]), H(v["k_mac"]), H(v["k_kdf"])
    s = H(v["rnd_ifd"]) + H(v["rnd_icc"]) + H(v["k_ifd"])
    e_ifd = _aes(k_enc, modes.CBC(bytes(16)), s)
    assert e_ifd == H(v["e_ifd"]) and _cmac(k_mac, e_ifd) == H(v["m_ifd"])
    assert H(v["apdu_mutual_authenticate"]) == b"\x00\x82\x00\x00\x40" + e_ifd + \
        _cmac(k_mac, e_ifd) + b"\x40"
    answer = H(v["resp_mutual_authenticate"])
    assert answer[-2:] == b"\x90\x00" and _cmac(k_mac, answer[:48]) == answer[48:64]
    r = _aes(k_enc, modes.CBC(bytes(16)), answer[:48], encrypt=False)
    assert r[:32] == H(v["rnd_icc"]) + H(v["rnd_ifd"]) and r[32:] == H(v["k_icc"])
    context = H(v["rnd_icc"]) + H(v["rnd_ifd"]) + bytes(
        a ^ b for a, b in zip(H(v["k_ifd"]), H(v["k_icc"]), strict=True))
    label = b"jukicard-protocol-v1 session keys"
    s_enc = _cmac(k_kdf, b"\x01" + label + b"\x00" + context + b"\x01\x00")
    s_mac = _cmac(k_kdf, b"\x02" + label + b"\x00" + context + b"\x01\x00")
    assert (s_enc, s_mac) == (H(v["s_enc"]), H(v["s_mac"]))
    # the protected SELECT (SSC 1): IV, DO87, MAC over pad(SSC ‖ pad(header) ‖ DO87)
    first = v["secure_messaging"][0]
    ssc = (1).to_bytes(16, "big")
    iv = _aes(s_enc, modes.ECB(), ssc)
    do87 = b"\x87\x11\x01" + _aes(s_enc, modes.CBC(iv), b"\x00\x02\x80" + bytes(13))
    header = b"\x0c\xa4\x02\x0c\x80" + bytes(11)
    m = _cmac(s_mac, ssc + header + do87 + b"\x80" + bytes(12))[:8]  # 51 bytes -> 64
    assert H(first["apdu"]) == b"\x0c\xa4\x02\x0c\x1d" + do87 + b"\x8e\x08" + m + b"\x00"
    # its response (SSC 2): 99 02 90 00 ‖ 8E over pad(SSC ‖ DO99)
    ssc2 = (2).to_bytes(16, "big")
    m2 = _cmac(s_mac, ssc2 + b"\x99\x02\x90\x00\x80" + bytes(11))[:8]
    assert H(first["response"]) == b"\x99\x02\x90\x00\x8e\x08" + m2 + b"\x90\x00"


def test_a_softhsm2_token_reproduces_the_vectors(softhsm_token: TokenSettings) -> None:
    """The token (TEST master imported) derives the same card keys: same cryptogram, same
    session keys as the vectors (the card keys themselves never leave the token)."""
    v = VECTORS
    with KeyStore.open(softhsm_token) as ks:
        keys = card_keys(ks, ks.key(PROTOCOL_MASTER_LABEL), v["card_id"])
        crypt = host_cryptogram(ks, keys, H(v["rnd_icc"]), H(v["rnd_ifd"]), H(v["k_ifd"]))
        assert crypt == H(v["e_ifd"]) + H(v["m_ifd"])
        cipher = derive_session_keys(ks, keys, kdf_context(H(v["rnd_icc"]), H(v["rnd_ifd"]),
                                                           H(v["k_ifd"]), H(v["k_icc"])))
    reference = SmCipher(H(v["s_enc"]), H(v["s_mac"]))
    assert cipher.mac(1, b"probe") == reference.mac(1, b"probe")
    assert cipher.encrypt(5, b"probe") == reference.encrypt(5, b"probe")


# --------------------------------------------------------------------------- codec rules
@pytest.mark.parametrize("data", [b"", b"\x80", bytes(15), bytes(16), bytes(17)])
def test_padding_round_trip(data: bytes) -> None:
    padded = pad(data)
    assert len(padded) % 16 == 0 and len(padded) > len(data) and unpad(padded) == data


@pytest.mark.parametrize("bad", [bytes(16), b"\x01" * 16, b"\x80" + bytes(31)])
def test_bad_padding(bad: bytes) -> None:
    with pytest.raises(JukicardSecureMessagingError):
        unpad(bad)


CIPHER = SmCipher(bytes(range(16)), bytes(range(16, 32)))
HEADER = b"\x0c\xb0\x00\x00"


@pytest.mark.parametrize("le,expected", [(None, None), (1, 1), (256, 256), (300, 300),
                                         (65536, 65536)])
def test_command_round_trip(le: int | None, expected: int | None) -> None:
    field = CIPHER.protect_command(7, HEADER, b"data", le)
    assert CIPHER.open_command(7, HEADER, field) == (b"data", expected)


@pytest.mark.parametrize("field,sw", [
    (b"", 0x6987),                                   # no objects at all
    (b"\x97\x01\x00", 0x6987),                       # no MAC object
    (b"\x8e\x08" + bytes(8) + b"\x97\x01\x00", 0x6987),  # MAC not last
    (b"\x97\x01\x00\x97\x01\x00\x8e\x08" + bytes(8), 0x6988),  # repeated
    (b"\x86\x03\x01\x00\x00\x8e\x08" + bytes(8), 0x6988),      # a tag of another SM scheme
    (b"\x97\x01\x00\x87\x11\x01" + bytes(16) + b"\x8e\x08" + bytes(8), 0x6988),  # order
])
def test_command_object_rules(field: bytes, sw: int) -> None:
    with pytest.raises(JukicardSecureMessagingError) as err:
        CIPHER.open_command(1, HEADER, field)
    assert err.value.sw == sw


def test_header_is_under_the_mac() -> None:
    field = CIPHER.protect_command(3, HEADER, b"", 16)
    with pytest.raises(JukicardSecureMessagingError, match="wrong MAC"):
        CIPHER.open_command(3, b"\x0c\xb0\x00\x10", field)  # another offset


def test_padding_indicator_must_be_01() -> None:
    field = CIPHER.protect_command(3, HEADER, b"x", None)
    body = field[:2] + b"\x02" + field[3:-10]
    mac = CIPHER.mac(3, pad(HEADER) + body)
    with pytest.raises(JukicardSecureMessagingError, match="padding indicator"):
        CIPHER.open_command(3, HEADER, body + b"\x8e\x08" + mac)


def test_cipher_repr_hides_keys() -> None:
    assert bytes(range(16)).hex() not in repr(CIPHER).lower() and "hidden" in repr(CIPHER)


def test_key_information_ef_hostile_data_gives_bad_response_only() -> None:
    """The key-information EF (juki 0030) under mutation: BadResponse or a value, nothing
    else (the card-data fuzz of tests/emulated/test_card_fuzz.py skips it)."""
    import random

    from jukicard.card.mutual import KeyInfo
    from jukicard.errors import BadResponse

    good = H(VECTORS["key_info_ef"])
    rng = random.Random(11)
    cases = [b"", good[:1], good[:5], good + b"\xff" * 8, b"\xe0\x00", b"\xe0\x03\x80\x01\x01"]
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cases.append(bytes(data[: rng.randint(0, len(data))]))
    for data in cases:
        try:
            KeyInfo.parse(data)
        except BadResponse:
            pass
