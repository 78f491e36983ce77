"""Issue 11, part C, in-process against the emulated card: 券面AP card authentication (good
run, cloned card, tampered CV certificate, tampered record, replayed signature, test CV key
under the production policy), the bundled J-LIS CV CA keys, INTERNAL AUTHENTICATE (good,
wrong key, refused keys), MF GET DATA (every object, 6A88, extended Le), the common AP
card-information record, JPKI EF 0008 and the full token information."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from emulated_support import PINS, Emulated, MakeCard, PinLedger, find_file
from emulated_support import profile_json as load_json

from jukicard.card import cvca
from jukicard.card.cardauth import CardAuthPolicy, CvCaKey, TrustLevel
from jukicard.card.cvc import CvCertificate
from jukicard.card.identity import (
    CommonSession,
    card_identification_number,
    read_card_identity,
)
from jukicard.card.identity_data import MF_TAGS, CardInfoRecord
from jukicard.card.jpki import JpkiSession
from jukicard.card.visual import VisualSession
from jukicard.card.visualauth import verify_visual_authentication
from jukicard.emulator.sample import new_key_pem
from jukicard.errors import (
    CardAuthenticationError,
    CardError,
    DataIntegrityError,
    IssuerKeyMismatchError,
    UntrustedIssuerError,
    UsageError,
)

ROOT = Path(__file__).resolve().parents[2]
TEST_ROOT = CvCertificate.parse((ROOT / "vectors/pki/cv/jlis-root.cvc").read_bytes())
TEST_ANCHOR = CvCaKey.from_cv_certificate(TEST_ROOT, production=False, provenance="pkigen")
TEST_POLICY = CardAuthPolicy((TEST_ANCHOR,), production=False)


def _match_a() -> str:
    return str(find_file(load_json("mynumber-01"), "visual", "0013")["value"])


def _match_b() -> str:
    return str(find_file(load_json("mynumber-01"), "visual", "0012")["value"])


def _visual(card: Emulated) -> VisualSession:
    return VisualSession(card.transport)


# --------------------------------------------------------------------------- visual AP
@pytest.mark.parametrize("cred", ["match_a", "match_b", "birth_pin"])
def test_visual_good_run_each_credential(mynumber: Emulated, pins: PinLedger,
                                         cred: str) -> None:
    value = {"match_a": _match_a, "match_b": _match_b,
             "birth_pin": lambda: str(find_file(load_json("mynumber-01"), "visual",
                                                "0011")["value"])}[cred]()
    result = _visual(mynumber).authenticate_card(**{cred: pins.submit(value)},
                                                 policy=TEST_POLICY)
    assert result.level is TrustLevel.VERIFIED_TO_JLIS_CA and result.application == "visual"
    assert result.ca_key_id == TEST_ROOT.chr and result.ca_production is False
    sign = [c for c in mynumber.sent if c[:2] == b"\x80\x2a"]
    assert len(sign) == 1 and sign[0][2:4] == b"\x00\x00"
    assert mynumber.card.stats.verify_with_data == 1


def test_visual_without_policy_is_self_consistent_only(mynumber: Emulated,
                                                       pins: PinLedger) -> None:
    result = _visual(mynumber).authenticate_card(match_b=pins.submit(_match_b()))
    assert result.level is TrustLevel.SELF_CONSISTENT_ONLY and result.ca_production is None


def test_visual_needs_a_credential_nothing_sent(mynumber: Emulated) -> None:
    with pytest.raises(UsageError):
        _visual(mynumber).authenticate_card(policy=TEST_POLICY)
    assert mynumber.card.stats.verify_with_data == 0


def test_visual_cloned_card_right_data_wrong_key(make_card: MakeCard, pins: PinLedger) -> None:
    prof = load_json("mynumber-01")
    find_file(prof, "visual", "001A")["private_key_pem"] = new_key_pem()
    clone = make_card(data=prof)
    with pytest.raises(CardAuthenticationError):
        _visual(clone).authenticate_card(match_a=pins.submit(_match_a()), policy=TEST_POLICY)


def _tampered(make_card: MakeCard, fid: str, pos: int) -> Emulated:
    prof = load_json("mynumber-01")
    entry = find_file(prof, "visual", fid)
    raw = bytearray(bytes.fromhex(entry["data"]))
    raw[pos] ^= 0x01
    entry["data"] = raw.hex().upper()
    return make_card(data=prof)


def test_visual_tampered_cv_certificate(make_card: MakeCard, pins: PinLedger) -> None:
    card = _tampered(make_card, "0004", 200)
    with pytest.raises(IssuerKeyMismatchError):
        _visual(card).authenticate_card(match_b=pins.submit(_match_b()), policy=TEST_POLICY)


@pytest.mark.parametrize("fid,pos", [("0002", 60), ("0002", 400), ("0005", 30),
                                     ("0001", 12)])
def test_visual_tampered_record(make_card: MakeCard, pins: PinLedger, fid: str,
                                pos: int) -> None:
    """A changed byte in a signed record (birth, card key, image): refused."""
    card = _tampered(make_card, fid, pos)
    cred = {"0001": ("birth_pin", "0011"), "0002": ("match_b", "0012"),
            "0005": ("match_a", "0013")}[fid]
    value = str(find_file(load_json("mynumber-01"), "visual", cred[1])["value"])
    with pytest.raises(DataIntegrityError):
        _visual(card).authenticate_card(**{cred[0]: pins.submit(value)}, policy=TEST_POLICY)


def test_visual_replayed_signature(mynumber: Emulated, pins: PinLedger) -> None:
    """An old (challenge, signature) pair checked with a new host nonce does not verify."""
    first = _visual(mynumber).authenticate_card(match_a=pins.submit(_match_a()),
                                                policy=TEST_POLICY)
    prof = load_json("mynumber-01")
    records = {int(f, 16): bytes.fromhex(find_file(prof, "visual", f)["data"])
               for f in ("0002", "0005")}
    cv_ef = bytes.fromhex(find_file(prof, "visual", "0004")["data"])
    with pytest.raises(CardAuthenticationError):
        verify_visual_authentication(cv_ef=cv_ef, records=records,
                                     card_challenge=first.card_challenge,
                                     host_nonce=bytes(16), signature=first.signature,
                                     policy=TEST_POLICY)


def test_visual_test_ca_under_production_policy(mynumber: Emulated, pins: PinLedger) -> None:
    with pytest.raises(UntrustedIssuerError):
        _visual(mynumber).authenticate_card(match_b=pins.submit(_match_b()),
                                            policy=cvca.policy())
    with pytest.raises(UsageError):
        cvca.policy(extra=(TEST_ANCHOR,))


# --------------------------------------------------------------------------- bundled keys
def test_bundled_cv_ca_keys() -> None:
    keys = cvca.bundled_keys()
    ids = sorted(k.key_id[:7].decode() for k in keys)
    assert ids == ["5000020", "5000023", "5000033", "6000020", "6000023", "6000033"]
    for k in keys:
        assert k.production is (k.key_id[:1] == b"5")
        assert k.public_key.key_size == 2048 and k.public_key.public_numbers().e == 65537
        assert "soltia48/myna-card" in k.provenance
    prod = cvca.policy()
    assert prod.production and all(a.production for a in prod.anchors)
    assert len(cvca.policy(allow_test_keys=True).anchors) == 6
    assert cvca.key_for(keys[0].key_id) is keys[0]
    with pytest.raises(UsageError):  # a J-LIS test key refused under the production policy
        CardAuthPolicy(tuple(k for k in keys if not k.production), production=True)


def test_bundled_key_file_tampered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "cvca"
    shutil.copytree(Path(cvca.__file__).parent, copy)
    name = json.loads((copy / "manifest.json").read_text())["keys"][1]["file"]
    text = (copy / name).read_text().replace("B2F7", "B2F6", 1)
    (copy / name).write_text(text)
    monkeypatch.setattr(cvca, "_DIRECTORY", copy)
    cvca.bundled_keys.cache_clear()
    try:
        with pytest.raises(DataIntegrityError):
            cvca.bundled_keys()
    finally:
        monkeypatch.undo()
        cvca.bundled_keys.cache_clear()


# --------------------------------------------------------------------------- INTERNAL AUTH
def _common_public_key() -> rsa.RSAPublicKey:
    pem = find_file(load_json("mynumber-01"), "common", "0019")["private_key_pem"]
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()


def test_internal_authenticate_key_unknown(mynumber: Emulated) -> None:
    result = CommonSession(mynumber.transport).internal_authenticate(b"\x01" * 16)
    assert result.key_known is False and result.to_dict()["result"] == "key-unknown"
    assert b"\x00\x88\x00\x99\x10" + b"\x01" * 16 + b"\x00" in mynumber.sent


def test_internal_authenticate_supplied_key(mynumber: Emulated) -> None:
    common = CommonSession(mynumber.transport)
    assert common.internal_authenticate(public_key=_common_public_key()).key_known
    with pytest.raises(CardAuthenticationError):
        common.internal_authenticate(
            public_key=rsa.generate_private_key(public_exponent=65537,
                                                key_size=2048).public_key())


def test_internal_authenticate_other_keys(mynumber: Emulated) -> None:
    """The 券面 key answers 6985, a PIN-protected JPKI key 6982 (card-security.md §2)."""
    t = mynumber.transport
    _visual(mynumber)  # select the visual AP
    assert t.transmit(bytes.fromhex("008800" + "9A" + "04" + "01020304" + "00"))[1] == 0x6985
    JpkiSession(t)
    assert t.transmit(bytes.fromhex("008800" + "97" + "04" + "01020304" + "00"))[1] == 0x6982
    with pytest.raises(UsageError):
        CommonSession(t).internal_authenticate(b"")


# --------------------------------------------------------------------------- GET DATA
def test_get_data_every_object(mynumber: Emulated) -> None:
    ident = read_card_identity(mynumber.transport)
    assert set(ident.objects) == set(MF_TAGS)
    info = CommonSession(mynumber.transport).read_card_info()
    assert ident.card_id == info.serial and ident.municipality == info.municipality
    assert ident.expiry == info.expiry
    f8 = CvCertificate.parse(b"\x7f\x21\x82" + len(ident.objects[0x00F8]).to_bytes(2, "big")
                             + ident.objects[0x00F8])
    f8.verify_issuer(TEST_ROOT.public_key())
    lower = CvCertificate.parse(b"\x7f\x21\x82" + len(ident.objects[0x7F21]).to_bytes(2, "big")
                                + ident.objects[0x7F21])
    lower.verify_issuer(f8.public_key())
    assert ident.objects[0x00F7] == f8.chr
    assert ident.objects[0x5F51] == mynumber.card.atr[1:]
    assert card_identification_number(mynumber.transport) == info.serial
    assert info.serial not in repr(ident) and info.serial not in repr(info)


def test_get_data_absent_and_short_le(mynumber: Emulated) -> None:
    t = mynumber.transport
    assert t.transmit(bytes.fromhex("00CA009900"))[1] == 0x6A88
    assert t.transmit(bytes.fromhex("00CA00F800"))[1] == 0x6700  # needs extended Le
    data, sw = t.transmit(bytes.fromhex("00CA00F2" + "00"))
    assert sw == 0x9000 and len(data) == 8
    assert read_card_identity(t, (0x0099,)).objects == {}


def test_get_data_short_card_skips_large(make_card: MakeCard) -> None:
    card = make_card("mynumber-short")
    ident = read_card_identity(card.transport)
    assert 0x0045 in ident.objects  # large objects need extended length: absent here


def test_card_without_id_number(make_card: MakeCard) -> None:
    prof = load_json("mynumber-01")
    del prof["mf_data"]["0045"]
    with pytest.raises(CardError):
        card_identification_number(make_card(data=prof).transport)


# --------------------------------------------------------------------------- JPKI EF 0008/0006
def test_jpki_availability_and_token_info(mynumber: Emulated) -> None:
    jpki = JpkiSession(mynumber.transport)
    avail = jpki.certificate_availability()
    assert avail.sign and avail.auth and bytes(avail) == b"\x8f\x8f\x00"
    full = jpki.token_info_full()
    assert full.label == "JPKIAPICCTOKEN2" and full.max_pin_len == 16 and full.flags == 0x040D
    assert jpki.token_info().token == "JPKIAPICCTOKEN2"  # the 32-byte read still works


def test_card_info_record_layout() -> None:
    rec = CardInfoRecord("123456789012345", "13101", "20350101")
    assert bytes(rec) == b"\x01\x1c" + b"123456789012345" + b"1310120350101"
    assert CardInfoRecord.parse(bytes(rec)) == rec


# --------------------------------------------------------------------------- secrets
def test_no_personal_data_in_logs_or_reprs(mynumber: Emulated, pins: PinLedger,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    match_a = _match_a()
    result = _visual(mynumber).authenticate_card(match_a=pins.submit(match_a),
                                                 policy=TEST_POLICY)
    ident = read_card_identity(mynumber.transport)
    text = caplog.text + repr(result) + repr(ident) + repr(result.to_dict())
    assert match_a not in text
    assert str(ident.card_id) not in caplog.text + repr(ident)


# --------------------------------------------------------------------------- data authenticity
def test_read_verified_under_a_cv_ca_policy(mynumber: Emulated, pins: PinLedger) -> None:
    from jukicard.card.text import TextSession
    text = TextSession(mynumber.transport)
    data = text.read_verified(pins.submit(PINS["text"]), policy=TEST_POLICY)
    assert data.trust_level == "verified-to-jlis-ca"
    assert text.read_verified(pins.submit(PINS["text"])).trust_level == "self-consistent-only"
    with pytest.raises(UntrustedIssuerError):
        text.read_verified(pins.submit(PINS["text"]), policy=cvca.policy())
    with pytest.raises(UsageError):  # nothing sent
        text.read_verified(PINS["text"], policy=TEST_POLICY, issuer_key=TEST_ROOT)
