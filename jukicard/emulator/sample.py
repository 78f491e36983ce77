"""A small synthetic card profile for tests that run before/without ``vectors/cards``.

NOTE: everything here is synthetic test material.  The "certificates" are filler bytes with a
DER ``30 82 hh ll`` header (the right sizes for length probing, NOT parseable X.509); the
My Number, PINs and names are made up.  For real test certificates use the profiles produced
by ``python -m jukicard.testing.pkigen`` in ``vectors/cards/``.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.emulator.profile import DEFAULT_ATR, PROFILE_FORMAT, CardProfile

__all__ = [
    "JPKI_AID",
    "TEXT_AID",
    "VISUAL_AID",
    "COMMON_AID",
    "JUKI_AID",
    "SAMPLE_PINS",
    "SAMPLE_MY_NUMBER",
    "new_key_pem",
    "fake_der",
    "sample_profile_json",
    "sample_profile",
]

JPKI_AID = "D392F000260100000001"
TEXT_AID = "D3921000310001010408"
VISUAL_AID = "D3921000310001010402"
COMMON_AID = "D3921000310001010100"
JUKI_AID = "D3921000310001010401"  # unverified layout (card-interface.md §3.4)

SAMPLE_MY_NUMBER = "123456789018"  # synthetic
#: PIN values of the sample profile: (application, fid) -> value.  Synthetic.
SAMPLE_PINS: dict[tuple[str, int], str] = {
    ("jpki", 0x0018): "1234",
    ("jpki", 0x001B): "ABC123",
    ("text", 0x0011): "1234",
    ("text", 0x0014): SAMPLE_MY_NUMBER,
    ("text", 0x0015): "01020320321234",
    ("visual", 0x0013): SAMPLE_MY_NUMBER,
    ("visual", 0x0012): "01020320321234",
    ("juki", 0x001C): "1234",
}


def new_key_pem(bits: int = 2048) -> str:
    """A fresh RSA private key as unencrypted PKCS#8 PEM (throwaway test key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def fake_der(total: int, seed: int = 0) -> bytes:
    """``30 82 hh ll`` + filler: ``total`` bytes that look like a DER SEQUENCE header."""
    body = bytes((seed + i * 7) & 0xFF for i in range(total - 4))
    return b"\x30\x82" + (total - 4).to_bytes(2, "big") + body


def _pin(fid: str, value: str, lo: int, hi: int, tries: int) -> dict[str, Any]:
    return {"fid": fid, "kind": "pin", "value": value, "min_len": lo, "max_len": hi,
            "max_tries": tries}


def _bin(fid: str, data: bytes, read: Any = "always", **extra: Any) -> dict[str, Any]:
    return {"fid": fid, "kind": "binary", "data": data.hex().upper(), "read": read, **extra}


def sample_profile_json(
    *,
    auth_key_pem: str | None = None,
    sign_key_pem: str | None = None,
    key_bits: int = 2048,
    extended_length: bool = True,
    atr: bytes = DEFAULT_ATR,
    challenge_seed: int | None = None,
) -> dict[str, Any]:
    """The sample My Number card as profile JSON (a dict).

    :param auth_key_pem: / :param sign_key_pem: keys to use; fresh ``key_bits`` keys if None.
    """
    auth_key_pem = auth_key_pem or new_key_pem(key_bits)
    sign_key_pem = sign_key_pem or new_key_pem(key_bits)
    my_number_ef = b"\xff\x10\x0c" + SAMPLE_MY_NUMBER.encode() + b"\xff\xff"
    name, addr = "テスト 太郎".encode(), "東京都千代田区テスト1-2-3".encode()
    four_info = (b"\xdf\x21\x08" + bytes(8) + b"\xdf\x22" + bytes((len(name),)) + name
                 + b"\xdf\x23" + bytes((len(addr),)) + addr + b"\xdf\x24\x0819800102"
                 + b"\xdf\x25\x011")
    four_info_ef = b"\xff\x20" + bytes((len(four_info),)) + four_info
    profile: dict[str, Any] = {
        "format": PROFILE_FORMAT,
        "name": "sample-mynumber",
        "description": "jukicard.emulator.sample: synthetic test card, keys/data are not real",
        "card_type": "mynumber",
        "atr": atr.hex().upper(),
        "extended_length": extended_length,
        "applications": [
            {"name": "jpki", "aid": JPKI_AID, "files": [
                _bin("0006", b"JPKIAPICCTOKEN2", size=32, pad="20"),
                _bin("0001", fake_der(1742, 1), {"any_of": ["001B"]}),
                _bin("0002", fake_der(1000, 2)),
                _bin("000A", fake_der(1571, 3)),
                _bin("000B", fake_der(1001, 4)),
                {"fid": "0017", "kind": "rsa_key", "private_key_pem": auth_key_pem,
                 "use": {"any_of": ["0018"]}},
                _pin("0018", SAMPLE_PINS[("jpki", 0x0018)], 4, 4, 3),
                {"fid": "001A", "kind": "rsa_key", "private_key_pem": sign_key_pem,
                 "use": {"any_of": ["001B"]}},
                _pin("001B", SAMPLE_PINS[("jpki", 0x001B)], 6, 16, 5),
            ]},
            {"name": "text", "aid": TEXT_AID, "files": [
                _bin("0001", my_number_ef, {"any_of": ["0011", "0014"]}),
                _bin("0002", four_info_ef, {"any_of": ["0011", "0015"]}),
                _bin("0005", b"\xff\x40\x18\xdf\x41\x04\x01\x02\x03\x04\xdf\x42\x10" + bytes(16),
                     size=256, pad="FF"),
                _pin("0011", SAMPLE_PINS[("text", 0x0011)], 4, 4, 3),
                _pin("0014", SAMPLE_PINS[("text", 0x0014)], 12, 12, 10),
                _pin("0015", SAMPLE_PINS[("text", 0x0015)], 14, 14, 10),
            ]},
            {"name": "visual", "aid": VISUAL_AID, "files": [
                _bin("0002", b"\xff\x20\x82\x00\x05\xdf\x29\x02\x20\x32", {"any_of":
                     ["0012", "0013"]}),
                _pin("0012", SAMPLE_PINS[("visual", 0x0012)], 14, 14, 10),
                _pin("0013", SAMPLE_PINS[("visual", 0x0013)], 12, 12, 10),
            ]},
            {"name": "common", "aid": COMMON_AID, "files": [
                {"fid": "0001", "kind": "record", "read": "always",
                 "records": [("C10F" + b"AB1234567890123".hex()).upper()]},
            ]},
            {"name": "juki", "aid": JUKI_AID, "files": [
                _pin("001C", SAMPLE_PINS[("juki", 0x001C)], 4, 4, 3),
            ]},
        ],
    }
    if challenge_seed is not None:
        profile["challenge_seed"] = challenge_seed
    return profile


def sample_profile(**kwargs: Any) -> CardProfile:
    """:func:`sample_profile_json` parsed into a :class:`CardProfile`."""
    return CardProfile.from_json(sample_profile_json(**kwargs))
