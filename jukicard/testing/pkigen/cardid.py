"""Issue 11, part C in the test cards: card identity and the 券面AP's card authentication.

:func:`with_card_identity` takes a My Number card profile as :func:`~jukicard.testing.
pkigen.profiles.card_profile` builds it and adds (or replaces, EF by EF):

* 券面事項確認AP: EF ``0001``/``0002`` re-signed the real way (VIS-1 in
  :mod:`jukicard.card.visualauth`) carrying the card key (``DF 12``/``DF 24``), the new
  EF ``0005`` (``FF 40 { DF 41 PNG, DF 42 card key, DF 43 sig }``, 照合番号A only) and the
  card key IEF ``001A`` (the AP's default signing key, no credential);
* 共通カードAP: the card-information record (``01 1C`` + 28 digits) as record 1 and the
  INTERNAL AUTHENTICATE key IEF ``0019`` (no credential);
* JPKI: EF ``0008`` (``8F 8F 00``) and EF ``0006`` as a full 160-byte ``CK_TOKEN_INFO``;
* MF GET DATA objects (``mf_data``): ``0042``, ``0045``, ``0066``, ``00F0``, ``00F2``,
  ``00F7``, ``00F8`` (test root → MF intermediate), ``7F21`` (intermediate → a card key)
  and ``5F51`` (the ATR without TS).

Every key is a pkigen test key; the CV certificates chain to pkigen's test root
(``999…``), never to a J-LIS key.
"""

from __future__ import annotations

import dataclasses

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu.apps import App, JpkiCert, VisualEf, VisualPin
from jukicard.apdu.apps.common import INTERNAL_AUTH_KEY
from jukicard.apdu.apps.jpki import MYNUMBER_TOKEN, TOKEN_EF
from jukicard.apdu.apps.visual import CARD_AUTH_KEY as VISUAL_CARD_AUTH_KEY
from jukicard.card.codec import rsa_key_tlvs, rsa_sign, tlv
from jukicard.card.cvc import CvCertificate
from jukicard.card.identity_data import CardInfoRecord, CertificateAvailability, TokenInfoFull
from jukicard.card.visual_data import VisualBirth, VisualEntries
from jukicard.card.visualauth import VisualRecord
from jukicard.emulator.profile import (
    AccessCondition,
    ApplicationSpec,
    BinaryFileSpec,
    CardProfile,
    FileSpec,
    RecordFileSpec,
    RsaKeySpec,
)
from jukicard.emulator.securitycmds import raw_pkcs1_sign
from jukicard.testing.pkigen.carddata import CV_IDS, CvSet, tiny_jp2, tiny_png
from jukicard.testing.pkigen.keys import PublishedKeys, pem
from jukicard.testing.pkigen.personas import Resident
from jukicard.testing.pkigen.profiles import any_of

__all__ = ["with_card_identity", "card_serial", "MUNICIPALITY_CODES", "MF_IDS"]

#: 全国地方公共団体コード (5 digits, no check digit) of the test residents' cities.
MUNICIPALITY_CODES = {"Chiyoda-ku": "13101", "Yokohama-shi": "14100",
                      "Sapporo-shi": "01100", "Osaka-shi": "27100", "Fukuoka-shi": "40130"}
#: CV ids of the test MF chain (the MF keys' ids end in ``A8``, as measured).
MF_IDS = {
    "mf-intermediate": b"9990020" + b"\x08\x05" + b"001" + b"\x00\x00\x00\xa8",
    "mf-card": b"9990029" + b"\x08\x05" + b"001" + b"\x00\x00\x00\xa8",
}
#: A synthetic GlobalPlatform card recognition data object (OID 1.2.840.114283.1).
_CARD_RECOGNITION = bytes.fromhex("730906072A864886FC6B01")


def card_serial(res: Resident) -> str:
    """The 15-digit card serial / identification number of ``res``'s test card."""
    return "99" + res.card_id[2:].rjust(11, "0") + "00"


def _key_pem(key: rsa.RSAPrivateKey) -> str:
    return pem(key).decode("ascii")


def _replace(app: ApplicationSpec, files: list[FileSpec]) -> ApplicationSpec:
    """``app`` with ``files`` added, replacing any file of the same fid (order kept)."""
    new = {f.fid: f for f in files}
    kept = [new.pop(f.fid, f) for f in app.files]
    return dataclasses.replace(app, files=tuple(kept) + tuple(new.values()))


def _visual_files(res: Resident, cv: CvSet, card_key: rsa.RSAPrivateKey) -> list[FileSpec]:
    vkey = cv.keys["visual-ap"]
    nums = card_key.public_key().public_numbers()
    key_tlvs = rsa_key_tlvs(nums.e, nums.n)
    birth8 = res.birth.strftime("%Y%m%d")
    vb = VisualBirth(birth8, key_tlvs, b"")
    vb = dataclasses.replace(vb, signature=rsa_sign(vkey, vb.signed_part()))
    ve = VisualEntries(birth=birth8, sex=res.sex, public_key=key_tlvs,
                       name_png=tiny_png(0x10), address_png=tiny_png(0x20),
                       photo=tiny_jp2(), signature=b"\x00" * 256,
                       expiry=res.card_expiry.strftime("%Y%m%d"),
                       security_code_png=tiny_png(0x30))
    info = VisualRecord.parse(VisualEf.ENTRIES, bytes(ve)).signed
    ve = dataclasses.replace(ve, signature=raw_pkcs1_sign(vkey, info))
    signed = tlv(0xDF41, tiny_png(0x40)) + tlv(0xDF42, key_tlvs, long_form=True)
    image = tlv(0xFF40, signed + tlv(0xDF43, rsa_sign(vkey, signed), long_form=True),
                long_form=True)
    return [
        BinaryFileSpec(VisualEf.BIRTH, bytes(vb), any_of(VisualPin.BIRTH)),
        BinaryFileSpec(VisualEf.ENTRIES, bytes(ve), any_of(VisualPin.MATCH_A,
                                                           VisualPin.MATCH_B)),
        BinaryFileSpec(VisualEf.MY_NUMBER_IMAGE, image, any_of(VisualPin.MATCH_A)),
        RsaKeySpec(VISUAL_CARD_AUTH_KEY, _key_pem(card_key), AccessCondition.ALWAYS),
    ]


def _mf_data(res: Resident, profile: CardProfile, keys: PublishedKeys, serial: str,
             municipality: str) -> dict[int, bytes]:
    root_key = keys.get(CvSet.key_name("jlis-root"))
    mf_key = keys.get(CvSet.key_name("mf-intermediate"))
    card_mf = keys.get(f"card-{res.id}-mf")
    root_id = CV_IDS["jlis-root"]
    f8 = CvCertificate.create(root_id, MF_IDS["mf-intermediate"], mf_key.public_key(),
                              root_key)
    lower = CvCertificate.create(MF_IDS["mf-intermediate"], MF_IDS["mf-card"],
                                 card_mf.public_key(), mf_key)
    return {
        0x0042: root_id,
        0x0045: serial.encode("ascii"),
        0x0066: _CARD_RECOGNITION,
        0x00F0: municipality.encode("ascii"),
        0x00F2: res.card_expiry.strftime("%Y%m%d").encode("ascii"),
        0x00F7: MF_IDS["mf-intermediate"],
        0x00F8: bytes(f8)[5:],  # responses leave out the 7F21 82 hh ll wrapper
        0x7F21: bytes(lower)[5:],
        0x5F51: profile.atr[1:],
    }


def _token() -> TokenInfoFull:
    return TokenInfoFull(
        label=MYNUMBER_TOKEN, manufacturer="jukicard test", model="emulated",
        serial_number="0000000000000000", flags=0x040D, max_session_count=0,
        session_count=0, max_rw_session_count=0, rw_session_count=0, max_pin_len=16,
        min_pin_len=6, total_public_memory=0xFFFFFFFF, free_public_memory=0xFFFFFFFF,
        total_private_memory=0xFFFFFFFF, free_private_memory=0xFFFFFFFF,
        hardware_version=b"03", firmware_version=b"01", utc_time="")


def with_card_identity(profile: CardProfile, res: Resident, cv: CvSet,
                       keys: PublishedKeys) -> CardProfile:
    """``profile`` (a My Number card's) with the issue-11 part-C files (module doc).
    A 住基カード profile is returned unchanged."""
    if res.plan.is_juki:
        return profile
    serial = card_serial(res)
    municipality = MUNICIPALITY_CODES[res.place.city_en]
    info = CardInfoRecord(serial, municipality, res.card_expiry.strftime("%Y%m%d"))
    extra: dict[str, list[FileSpec]] = {
        App.VISUAL.application.name: _visual_files(res, cv, keys.get(f"card-{res.id}-visual")),
        App.COMMON.application.name: [
            RecordFileSpec(0x0001, (bytes(info),)),
            RsaKeySpec(INTERNAL_AUTH_KEY, _key_pem(keys.get(f"card-{res.id}-common")),
                       AccessCondition.ALWAYS),
        ],
        App.JPKI.application.name: [
            BinaryFileSpec(TOKEN_EF, bytes(_token())),
            BinaryFileSpec(0x0008, bytes(CertificateAvailability(
                True, any(f.fid == JpkiCert.AUTH.spec.ef for f in
                          profile.application("jpki").files)))),
        ],
    }
    apps = tuple(_replace(a, extra.get(a.name, [])) for a in profile.applications)
    return profile.replace(applications=apps,
                           mf_data=_mf_data(res, profile, keys, serial, municipality))
