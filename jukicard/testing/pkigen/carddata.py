"""The contents of the test cards' EFs: My Number, 基本4情報, the text-AP signature EF, the
test "J-LIS" CV certificates, the visual-AP entries and images, the token, the card id and
the 住民票コード (``card-interface.md`` §8, §12).

Every EF is encoded by the card layer's own data objects (``__bytes__``), so the vectors
carry exactly what the sessions parse.  Signatures are RSA PKCS#1 v1.5 (deterministic).
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu.apps.jpki import JUKI_TOKEN, MYNUMBER_TOKEN
from jukicard.card.cardauth import SignedCardKey
from jukicard.card.codec import rsa_sign, tlv
from jukicard.card.dataobjects import (
    ApBasicInfo,
    BasicInfo,
    CommonCardId,
    CvCertificate,
    MyNumber,
    TextApSignature,
    TokenInfo,
    VisualBirth,
    VisualEntries,
)
from jukicard.card.juki_data import ResidentCode
from jukicard.testing.pkigen.keys import PublishedKeys
from jukicard.testing.pkigen.personas import CardPlan, Resident

__all__ = [
    "CV_IDS",
    "CvSet",
    "TextApData",
    "VisualApData",
    "make_cv",
    "text_ap_data",
    "card_key_name",
    "sm_key_name",
    "visual_ap_data",
    "token_ef",
    "card_id_record",
    "resident_code_ef",
    "tiny_png",
    "tiny_jp2",
]

#: CAR/CHR of the test CV certificates (16 bytes each), by name.
CV_IDS: dict[str, bytes] = {
    "jlis-root": b"9990000" + b"\x08\x05" + b"000" + b"\x00" * 4,
    "text-ap": b"9990033" + b"\x08\x05" + b"001" + b"\x00" * 4,
    "visual-ap": b"9990034" + b"\x08\x05" + b"001" + b"\x00" * 4,
}
_CV_ROOT = "jlis-root"
#: AP info (``DF 41``) of the text AP's and the visual AP's basic-info EF.
_TEXT_AP_INFO = b"\x01\x00\x00\x01"
_VISUAL_AP_INFO = b"\x00\x00\x00\x01"
_VISUAL_AP_INFO_VERSION = b"\x01"
_VISUAL_AP_INFO_SIZE = 256


# --------------------------------------------------------------------------- images
def tiny_png(gray: int = 0x80) -> bytes:
    """A valid 1×1 8-bit grayscale PNG (placeholder image)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(bytes([0, gray & 0xFF]), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def tiny_jp2() -> bytes:
    """A JPEG 2000 placeholder: JP2 signature box + file-type box (no codestream)."""
    sig = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
    ftyp = struct.pack(">I", 20) + b"ftyp" + b"jp2 " + b"\x00\x00\x00\x00" + b"jp2 "
    return sig + ftyp


# --------------------------------------------------------------------------- CV certificates
@dataclass(frozen=True, repr=False)
class CvSet:
    """The test "J-LIS" CV certificates and their keys, by name (``jlis-root``,
    ``text-ap``, ``visual-ap``; the root first)."""

    certs: Mapping[str, CvCertificate]
    keys: Mapping[str, rsa.RSAPrivateKey]

    @staticmethod
    def key_name(name: str) -> str:
        """The key store's name of CV key ``name``."""
        return f"cv-{name}"

    def __repr__(self) -> str:
        return f"CvSet({list(self.certs)!r})"


def make_cv(keys: PublishedKeys) -> CvSet:
    """The self-issued root and the text-AP and visual-AP certificates it issues."""
    root_key = keys.get(CvSet.key_name(_CV_ROOT))
    root_id = CV_IDS[_CV_ROOT]
    certs = {_CV_ROOT: CvCertificate.create(root_id, root_id, root_key.public_key(), root_key)}
    cv_keys = {_CV_ROOT: root_key}
    for name, chr_ in CV_IDS.items():
        if name == _CV_ROOT:
            continue
        k = keys.get(CvSet.key_name(name))
        cv_keys[name] = k
        certs[name] = CvCertificate.create(root_id, chr_, k.public_key(), root_key)
    return CvSet(certs, cv_keys)


# --------------------------------------------------------------------------- text AP
@dataclass(frozen=True, repr=False)
class TextApData:
    """The EFs of the 券面事項入力補助AP (personal data: masked in ``repr``)."""

    my_number: bytes
    basic_info: bytes
    signature: bytes
    cv_certificate: bytes
    ap_basic_info: bytes
    #: EF ``0007`` (the card key signed by the text-AP CV key), or empty.
    signed_card_key: bytes = b""

    def __repr__(self) -> str:
        return "TextApData(<synthetic personal data>)"


def card_key_name(res: Resident) -> str:
    """The key store's name of ``res``'s text-AP card key (IEF ``0013``)."""
    return f"card-{res.id}-text"


def sm_key_name(res: Resident) -> str:
    """The key store's name of ``res``'s text-AP session-key encryption key (EF ``0006``;
    issue 11 part A)."""
    return f"sm-{res.id}-text"


def text_ap_data(
    res: Resident, cv: CvSet, card_key: rsa.RSAPrivateKey | None = None
) -> TextApData:
    """The text-AP EFs of ``res``'s card, signed with the text-AP CV key.

    :param card_key: the card's own key (IEF ``0013``): EF ``0007`` carries its public
        half signed by the text-AP CV key (CARDAUTH-2 in :mod:`jukicard.card.cardauth`).
    """
    mn = bytes(MyNumber(res.my_number))
    bi = bytes(BasicInfo(res.name, res.address, res.birth, res.sex))
    return TextApData(
        my_number=mn,
        basic_info=bi,
        signature=bytes(TextApSignature.create(mn, bi, cv.keys["text-ap"])),
        cv_certificate=bytes(cv.certs["text-ap"]),
        ap_basic_info=bytes(ApBasicInfo(_TEXT_AP_INFO, cv.certs["text-ap"].chr)),
        signed_card_key=(b"" if card_key is None else
                         bytes(SignedCardKey.create(card_key.public_key(), cv.keys["text-ap"]))),
    )


# --------------------------------------------------------------------------- visual AP
@dataclass(frozen=True, repr=False)
class VisualApData:
    """The EFs of the 券面事項確認AP (personal data: masked in ``repr``)."""

    birth: bytes
    entries: bytes
    ap_basic_info: bytes
    cv_certificate: bytes

    def __repr__(self) -> str:
        return "VisualApData(<synthetic personal data>)"


def _visual_ap_info(key_id: bytes, city: str) -> bytes:
    """``FF 40 { DF 41 AP info, DF 42 key id, DF 43 version, DF 44 city }``, FF-padded."""
    body = (
        tlv(0xDF41, _VISUAL_AP_INFO)
        + tlv(0xDF42, key_id)
        + tlv(0xDF43, _VISUAL_AP_INFO_VERSION)
        + tlv(0xDF44, city.encode("utf-8"))
    )
    return tlv(0xFF40, body).ljust(_VISUAL_AP_INFO_SIZE, b"\xff")


def visual_ap_data(res: Resident, cv: CvSet) -> VisualApData:
    """The visual-AP EFs of ``res``'s card; the ``DF 13`` / ``DF 28`` signatures are made
    with the visual-AP CV key (a jukicard test rule: the real rule is not public)."""
    vkey = cv.keys["visual-ap"]
    spki = vkey.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    birth8 = res.birth.strftime("%Y%m%d")
    vb = VisualBirth(birth8, spki, b"")
    vb = dataclasses.replace(vb, signature=rsa_sign(vkey, vb.signed_part()))
    ve = VisualEntries(
        birth=birth8,
        sex=res.sex,
        public_key=spki,
        name_png=tiny_png(0x10),
        address_png=tiny_png(0x20),
        photo=tiny_jp2(),
        signature=b"",
        expiry=res.card_expiry.strftime("%Y%m%d"),
        security_code_png=tiny_png(0x30),
    )
    ve = dataclasses.replace(ve, signature=rsa_sign(vkey, ve.signed_part()))
    return VisualApData(
        birth=bytes(vb),
        entries=bytes(ve),
        ap_basic_info=_visual_ap_info(cv.certs["visual-ap"].chr, res.place.city),
        cv_certificate=bytes(cv.certs["visual-ap"]),
    )


# --------------------------------------------------------------------------- small EFs
def token_ef(plan: CardPlan) -> bytes:
    """The JPKI token EF of the card (space-padded)."""
    return bytes(TokenInfo(JUKI_TOKEN if plan.is_juki else MYNUMBER_TOKEN))


def card_id_record(res: Resident) -> bytes:
    """Record 1 of the common DF's card-id EF."""
    return bytes(CommonCardId(res.card_id))


def resident_code_ef(res: Resident) -> bytes:
    """The 住基AP's 住民票コード EF (bare digits; unverified layout)."""
    return bytes(ResidentCode(res.juki_code))
