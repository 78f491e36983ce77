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

from jukicard.apdu.apps import (
    App,
    CommonEf,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    PinSpec,
    TextEf,
    TextPin,
    VisualPin,
)
from jukicard.apdu.apps.jpki import MYNUMBER_TOKEN, TOKEN_EF, TOKEN_EF_SIZE
from jukicard.apdu.apps.juki import JukiPin
from jukicard.apdu.apps.visual import VisualEf
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

#: AIDs (hex) of the applications, from :mod:`jukicard.apdu.apps`.
JPKI_AID = App.JPKI.aid.hex().upper()
TEXT_AID = App.TEXT.aid.hex().upper()
VISUAL_AID = App.VISUAL.aid.hex().upper()
COMMON_AID = App.COMMON.aid.hex().upper()
JUKI_AID = App.JUKI.aid.hex().upper()  # unverified layout (card-interface.md §3.4)

SAMPLE_MY_NUMBER = "123456789018"  # synthetic
_MATCH_B = "01020320321234"  # synthetic
_PIN_VALUES: tuple[tuple[str, PinSpec, str], ...] = (
    ("jpki", JpkiPin.AUTH.spec, "1234"),
    ("jpki", JpkiPin.SIGN.spec, "ABC123"),
    ("text", TextPin.PIN.spec, "1234"),
    ("text", TextPin.MATCH_A.spec, SAMPLE_MY_NUMBER),
    ("text", TextPin.MATCH_B.spec, _MATCH_B),
    ("visual", VisualPin.MATCH_A.spec, SAMPLE_MY_NUMBER),
    ("visual", VisualPin.MATCH_B.spec, _MATCH_B),
    ("juki", JukiPin.PIN.spec, "1234"),
)
#: PIN values of the sample profile: (application, fid) -> value.  Synthetic.
SAMPLE_PINS: dict[tuple[str, int], str] = {(app, p.ef): v for app, p, v in _PIN_VALUES}


def new_key_pem(bits: int = 2048) -> str:
    """A fresh RSA private key as unencrypted PKCS#8 PEM (throwaway test key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def fake_der(total: int, seed: int = 0) -> bytes:
    """``30 82 hh ll`` + filler: ``total`` bytes that look like a DER SEQUENCE header."""
    body = bytes((seed + i * 7) & 0xFF for i in range(total - 4))
    return b"\x30\x82" + (total - 4).to_bytes(2, "big") + body


def _fid(ef: int) -> str:
    return f"{ef:04X}"


def _pin(app: str, spec: PinSpec) -> dict[str, Any]:
    """The PIN file of ``spec`` (its facts) with the sample value."""
    return {"fid": _fid(spec.ef), "kind": "pin", "value": SAMPLE_PINS[(app, spec.ef)],
            "min_len": spec.min_len, "max_len": spec.max_len, "max_tries": spec.max_tries}


def _key(spec: Any, pem: str) -> dict[str, Any]:
    return {"fid": _fid(spec.ef), "kind": "rsa_key", "private_key_pem": pem,
            "use": {"any_of": [_fid(spec.pin.ef)]}}


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
                _bin(_fid(TOKEN_EF), MYNUMBER_TOKEN.encode(), size=TOKEN_EF_SIZE, pad="20"),
                _bin(_fid(JpkiCert.SIGN.spec.ef), fake_der(1742, 1),
                     {"any_of": [_fid(JpkiPin.SIGN.spec.ef)]}),
                _bin(_fid(JpkiCert.SIGN_CA.spec.ef), fake_der(1000, 2)),
                _bin(_fid(JpkiCert.AUTH.spec.ef), fake_der(1571, 3)),
                _bin(_fid(JpkiCert.AUTH_CA.spec.ef), fake_der(1001, 4)),
                _key(JpkiKey.AUTH.spec, auth_key_pem),
                _pin("jpki", JpkiPin.AUTH.spec),
                _key(JpkiKey.SIGN.spec, sign_key_pem),
                _pin("jpki", JpkiPin.SIGN.spec),
            ]},
            {"name": "text", "aid": TEXT_AID, "files": [
                _bin(_fid(TextEf.MY_NUMBER), my_number_ef,
                     {"any_of": [_fid(TextPin.PIN.spec.ef), _fid(TextPin.MATCH_A.spec.ef)]}),
                _bin(_fid(TextEf.BASIC_INFO), four_info_ef,
                     {"any_of": [_fid(TextPin.PIN.spec.ef), _fid(TextPin.MATCH_B.spec.ef)]}),
                _bin(_fid(TextEf.AP_BASIC_INFO),
                     b"\xff\x40\x18\xdf\x41\x04\x01\x02\x03\x04\xdf\x42\x10" + bytes(16),
                     size=256, pad="FF"),
                _pin("text", TextPin.PIN.spec),
                _pin("text", TextPin.MATCH_A.spec),
                _pin("text", TextPin.MATCH_B.spec),
            ]},
            {"name": "visual", "aid": VISUAL_AID, "files": [
                _bin(_fid(VisualEf.ENTRIES), b"\xff\x20\x82\x00\x05\xdf\x29\x02\x20\x32",
                     {"any_of": [_fid(VisualPin.MATCH_B.spec.ef),
                                 _fid(VisualPin.MATCH_A.spec.ef)]}),
                _pin("visual", VisualPin.MATCH_B.spec),
                _pin("visual", VisualPin.MATCH_A.spec),
            ]},
            {"name": "common", "aid": COMMON_AID, "files": [
                {"fid": _fid(CommonEf.CARD_ID), "kind": "record", "read": "always",
                 "records": [("C10F" + b"AB1234567890123".hex()).upper()]},
            ]},
            {"name": "juki", "aid": JUKI_AID, "files": [
                _pin("juki", JukiPin.PIN.spec),
            ]},
        ],
    }
    if challenge_seed is not None:
        profile["challenge_seed"] = challenge_seed
    return profile


def sample_profile(**kwargs: Any) -> CardProfile:
    """:func:`sample_profile_json` parsed into a :class:`CardProfile`."""
    return CardProfile.from_json(sample_profile_json(**kwargs))
