"""Unit tests for the emulated card OS (jukicard.emulator.cardos)."""

from __future__ import annotations

import hashlib
import logging

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jukicard.apdu.command import CommandApdu
from jukicard.emulator import CardOS, CardProfile
from jukicard.emulator.fs import PinIEF
from jukicard.emulator.sample import (
    COMMON_AID,
    JPKI_AID,
    JUKI_AID,
    SAMPLE_MY_NUMBER,
    SAMPLE_PINS,
    TEXT_AID,
    VISUAL_AID,
    fake_der,
    new_key_pem,
    sample_profile_json,
)

SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return new_key_pem(2048), new_key_pem(2048)


@pytest.fixture(scope="module")
def profile_json(keys: tuple[str, str]) -> dict:
    return sample_profile_json(auth_key_pem=keys[0], sign_key_pem=keys[1])


@pytest.fixture(scope="module")
def profile(profile_json: dict) -> CardProfile:
    return CardProfile.from_json(profile_json)


@pytest.fixture
def card(profile: CardProfile) -> CardOS:
    c = CardOS(profile)
    c.power_on()
    return c


def tx(card: CardOS, apdu: str | bytes) -> tuple[bytes, int]:
    raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
    r = card.execute(raw)
    assert len(r) >= 2
    return r[:-2], int.from_bytes(r[-2:], "big")


def select_aid(card: CardOS, aid: str) -> int:
    return tx(card, f"00A4040C{len(bytes.fromhex(aid)):02X}{aid}")[1]


def select_ef(card: CardOS, fid: str) -> int:
    return tx(card, f"00A4020C02{fid}")[1]


def verify(card: CardOS, pin: str | bytes, p2: int = 0x80) -> int:
    data = pin.encode() if isinstance(pin, str) else pin
    return tx(card, CommandApdu(0, 0x20, 0, p2, data).encode())[1]


def sign(card: CardOS, data: bytes, le: int | None = 256) -> tuple[bytes, int]:
    return tx(card, CommandApdu(0x80, 0x2A, 0x00, 0x80, data, le=le).encode())


def digest_info(msg: bytes) -> bytes:
    return SHA256_PREFIX + hashlib.sha256(msg).digest()


def public_key(pem: str):
    return serialization.load_pem_private_key(pem.encode(), None).public_key()


# --------------------------------------------------------------------------- basics
def test_default_atr_is_the_opensc_jpki_atr(card: CardOS) -> None:
    assert card.atr == bytes.fromhex("3BE000FF8131FE4514")


def test_atr_override(profile: CardProfile) -> None:
    atr = bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")
    assert CardOS(profile, atr=atr).atr == atr
    assert CardOS(profile.replace(atr=atr)).atr == atr


@pytest.mark.parametrize("apdu", ["", "00", "00A4", "00A404", "00A4040C05D392",
                                  "00A4040C00", "00B000000000"])
def test_malformed_apdus_get_6700(card: CardOS, apdu: str) -> None:
    assert tx(card, apdu) == (b"", 0x6700)


@pytest.mark.parametrize("cla,sw", [(0x01, 0x6881), (0x02, 0x6881), (0x03, 0x6881),
                                    (0x40, 0x6881), (0x7F, 0x6881), (0x81, 0x6881),
                                    (0x04, 0x6882), (0x0C, 0x6882), (0x84, 0x6882),
                                    (0x10, 0x6884), (0x90, 0x6884),
                                    (0x20, 0x6E00), (0xA0, 0x6E00), (0xC0, 0x6E00),
                                    (0xFF, 0x6E00)])
def test_cla_handling(card: CardOS, cla: int, sw: int) -> None:
    assert tx(card, bytes((cla, 0xA4, 0x04, 0x0C, 0x0A)) + bytes.fromhex(JPKI_AID))[1] == sw


@pytest.mark.parametrize("apdu", ["00CB004200", "00860080010100", "00E2000000", "00C0000000",
                                  "80B0000004", "002A9E9A0101", "00B1000000"])
def test_unknown_instructions_get_6d00(card: CardOS, apdu: str) -> None:
    assert tx(card, apdu)[1] == 0x6D00


def test_iso_compute_signature_form_is_not_the_jpki_form(card: CardOS) -> None:
    # 00 2A (inter-industry class) is not supported: JPKI uses CLA 80
    assert tx(card, "002A9E9A0101")[1] == 0x6D00


# --------------------------------------------------------------------------- SELECT
def test_select_known_aids(card: CardOS) -> None:
    for aid in (JPKI_AID, TEXT_AID, VISUAL_AID, COMMON_AID, JUKI_AID):
        assert select_aid(card, aid) == 0x9000
        assert card.current_df is not None and card.current_df.aid == bytes.fromhex(aid)
        assert card.current_ef is None


@pytest.mark.parametrize("aid", ["627601FF000000", "A00000000101", "E82B0601040181C31F020100",
                                 "A000000397425446590000", "D27600012401", "A000000308000010000000",
                                 "D2330000004573744549442076333500", "D392F000260100000002",
                                 "D392F0002601000000"])
def test_foreign_aids_get_6a82(card: CardOS, aid: str) -> None:
    # OpenSC probes; 9000 here would let muscle/coolkey steal the card
    n = len(bytes.fromhex(aid))
    assert tx(card, f"00A40400{n:02X}{aid}")[1] == 0x6A82
    assert tx(card, f"00A4040C{n:02X}{aid}")[1] == 0x6A82


def test_failed_select_keeps_current_df_and_security_state(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert verify(card, "1234") == 0x9000
    assert tx(card, "00A4040C06A00000000101")[1] == 0x6A82
    assert select_ef(card, "0000") == 0x6A82
    assert card.verified_pins == {0x18}
    assert card.current_ef is not None and card.current_ef.fid == 0x18


def test_select_aid_with_fci(card: CardOS) -> None:
    data, sw = tx(card, f"00A404000A{JPKI_AID}00")
    assert sw == 0x9000
    assert data == bytes.fromhex("6F0C840A" + JPKI_AID)


def test_select_aid_with_fcp(card: CardOS) -> None:
    data, sw = tx(card, f"00A404040A{JPKI_AID}00")
    assert sw == 0x9000
    assert data[0] == 0x62 and data[1] == len(data) - 2
    assert bytes.fromhex("840A" + JPKI_AID) in data


def test_select_ef_with_fcp(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    data, sw = tx(card, "00A4020002000A00")
    assert sw == 0x9000
    assert data == bytes.fromhex("620B" "80020623" "820101" "8302000A")
    data, sw = tx(card, "00A4020402001800")
    assert sw == 0x9000
    assert bytes.fromhex("83020018") in data


@pytest.mark.parametrize("p2", [0x01, 0x02, 0x08, 0x10, 0x0D])
def test_select_bad_p2(card: CardOS, p2: int) -> None:
    assert tx(card, f"00A404{p2:02X}0A{JPKI_AID}")[1] == 0x6A86


def test_select_bad_p1(card: CardOS) -> None:
    assert tx(card, f"00A4080C0A{JPKI_AID}")[1] == 0x6A86
    assert tx(card, "00A4010C020001")[1] == 0x6A86


def test_select_ef_wrong_fid_length(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    assert tx(card, "00A4020C0100")[1] == 0x6700
    assert tx(card, "00A4020C03000A00")[1] == 0x6700


def test_select_ef_without_df_is_not_found(card: CardOS) -> None:
    assert select_ef(card, "000A") == 0x6A82


def test_select_ef_of_other_application_is_not_found(card: CardOS) -> None:
    select_aid(card, TEXT_AID)
    assert select_ef(card, "000A") == 0x6A82
    assert select_ef(card, "0011") == 0x9000


def test_select_mf(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    assert tx(card, "00A4000C023F00")[1] == 0x9000
    assert card.current_df is None
    assert select_ef(card, "000A") == 0x6A82


def test_select_p1_00_with_fid_selects_in_current_df(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    assert tx(card, "00A4000C02000A")[1] == 0x9000
    assert card.current_ef is not None and card.current_ef.fid == 0x0A


# --------------------------------------------------------------------------- READ BINARY
def test_read_binary_short_chunks_match_file(card: CardOS, profile: CardProfile) -> None:
    expected = profile.application("jpki").file(0x000A).data  # type: ignore[union-attr]
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    out = b""
    while True:
        data, sw = tx(card, CommandApdu(0, 0xB0, len(out) >> 8, len(out) & 0xFF, le=256).encode())
        if sw == 0x6B00:
            break
        assert sw == 0x9000
        out += data
        if len(data) < 256:
            break
    assert out == expected == fake_der(1571, 3)


def test_read_binary_extended_whole_file(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    data, sw = tx(card, "00B00000000000")  # Le = 65536
    assert sw == 0x9000 and data == fake_der(1571, 3)


def test_read_binary_le_00_is_256(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    data, sw = tx(card, "00B0000000")
    assert sw == 0x9000 and len(data) == 256


def test_read_binary_short_read_at_eof_is_9000(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    data, sw = tx(card, "00B0060000")  # offset 0x600, 0x23 bytes left
    assert sw == 0x9000 and len(data) == 1571 - 0x600


@pytest.mark.parametrize("offset", [1571, 1572, 0x7FFF])
def test_read_binary_past_end_is_6b00(card: CardOS, offset: int) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    assert tx(card, CommandApdu(0, 0xB0, offset >> 8, offset & 0xFF, le=1).encode())[1] == 0x6B00


def test_read_binary_token_is_space_padded(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0006")
    data, sw = tx(card, "00B0000020")
    assert sw == 0x9000
    assert data == b"JPKIAPICCTOKEN2".ljust(32, b" ")


def test_read_binary_sfi_form(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    data, sw = tx(card, "00B08A0004")  # SFI 0A, offset 0
    assert sw == 0x9000 and data == fake_der(1571, 3)[:4]
    assert card.current_ef is not None and card.current_ef.fid == 0x0A
    data, sw = tx(card, "00B0000404")  # now current EF
    assert sw == 0x9000 and data == fake_der(1571, 3)[4:8]
    data, sw = tx(card, "00B08A1002")  # SFI, offset 16
    assert data == fake_der(1571, 3)[16:18]


def test_read_binary_sfi_errors(card: CardOS) -> None:
    assert tx(card, "00B08A0004")[1] == 0x6A82  # no DF selected
    select_aid(card, JPKI_AID)
    assert tx(card, "00B0830004")[1] == 0x6A82  # no EF 0003 in JPKI
    assert tx(card, "00B0A00004")[1] == 0x6A86  # bits 7-6 not zero
    assert tx(card, "00B0800004")[1] == 0x6A86  # SFI 0
    assert tx(card, "00B09F0004")[1] == 0x6A86  # SFI 31


def test_read_binary_no_current_ef(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    assert tx(card, "00B0000004")[1] == 0x6986


def test_read_binary_on_ief_is_6981(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert tx(card, "00B0000004")[1] == 0x6981
    select_ef(card, "0017")
    assert tx(card, "00B0000004")[1] == 0x6981
    select_aid(card, COMMON_AID)
    select_ef(card, "0001")
    assert tx(card, "00B0000004")[1] == 0x6981  # record EF


def test_read_binary_needs_le_and_no_data(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    assert tx(card, "00B00000")[1] == 0x6700
    assert tx(card, "00B000000100")[1] == 0x6700


def test_read_protected_ef_needs_pin(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0001")
    assert tx(card, "00B0000004")[1] == 0x6982
    select_ef(card, "0018")
    assert verify(card, "1234") == 0x9000  # the auth PIN does not open the sign cert
    select_ef(card, "0001")
    assert tx(card, "00B0000004")[1] == 0x6982
    select_ef(card, "001B")
    assert verify(card, "ABC123") == 0x9000
    select_ef(card, "0001")
    data, sw = tx(card, "00B0000004")
    assert sw == 0x9000 and data == bytes.fromhex("308206CA")


def test_never_readable_ef(keys: tuple[str, str]) -> None:
    pj = sample_profile_json(auth_key_pem=keys[0], sign_key_pem=keys[1])
    pj["applications"][0]["files"].append({"fid": "0005", "kind": "binary", "data": "01",
                                           "read": "never"})
    card = CardOS(CardProfile.from_json(pj))
    select_aid(card, JPKI_AID)
    select_ef(card, "0005")
    assert tx(card, "00B0000001")[1] == 0x6982


def test_empty_binary_ef(keys: tuple[str, str]) -> None:
    pj = sample_profile_json(auth_key_pem=keys[0], sign_key_pem=keys[1])
    pj["applications"][0]["files"].append({"fid": "0005", "kind": "binary", "data": ""})
    card = CardOS(CardProfile.from_json(pj))
    select_aid(card, JPKI_AID)
    select_ef(card, "0005")
    assert tx(card, "00B0000001")[1] == 0x6B00


# --------------------------------------------------------------------------- short-APDU mode
def test_short_apdu_mode_refuses_extended(profile: CardProfile) -> None:
    card = CardOS(profile, extended_length=False)
    assert tx(card, f"00A4040C00000A{JPKI_AID}")[1] == 0x6700  # extended Lc
    assert select_aid(card, JPKI_AID) == 0x9000
    select_ef(card, "000A")
    assert tx(card, "00B00000000000")[1] == 0x6700
    assert tx(card, "00B0000000")[1] == 0x9000


def test_short_apdu_mode_from_profile(profile: CardProfile) -> None:
    card = CardOS(profile.replace(extended_length=False))
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    assert tx(card, "00B000000000FF")[1] == 0x6700
    assert CardOS(profile.replace(extended_length=False), extended_length=True).extended_length


def test_extended_select_accepted_by_default(card: CardOS) -> None:
    assert tx(card, f"00A4040C00000A{JPKI_AID}")[1] == 0x9000


# --------------------------------------------------------------------------- READ RECORD
def test_read_record_by_sfi_and_current(card: CardOS) -> None:
    expected = bytes.fromhex("C10F") + b"AB1234567890123"
    select_aid(card, COMMON_AID)
    data, sw = tx(card, "00B2010C00")  # record 1, SFI 1 (MYNA)
    assert sw == 0x9000 and data == expected
    data, sw = tx(card, "00B2010400")  # current EF now
    assert sw == 0x9000 and data == expected
    data, sw = tx(card, "00B2010500")  # P1..last (SCT form)
    assert sw == 0x9000 and data == expected
    data, sw = tx(card, "00B2010402")
    assert data == expected[:2]


def test_read_record_errors(card: CardOS) -> None:
    select_aid(card, COMMON_AID)
    assert tx(card, "00B2010400")[1] == 0x6986
    assert tx(card, "00B2020C00")[1] == 0x6A83
    assert tx(card, "00B2000C00")[1] == 0x6A86
    assert tx(card, "00B2010000")[1] == 0x6A86  # mode 000
    assert tx(card, "00B201FC00")[1] == 0x6A86  # SFI 31
    assert tx(card, "00B2011400")[1] == 0x6A82  # SFI 2 missing
    assert tx(card, "00B2010C")[1] == 0x6700
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    assert tx(card, "00B2010400")[1] == 0x6981


# --------------------------------------------------------------------------- GET CHALLENGE
def test_get_challenge_lengths(card: CardOS) -> None:
    for le_hex, n in (("08", 8), ("00", 256), ("01", 1)):
        data, sw = tx(card, "00840000" + le_hex)
        assert sw == 0x9000 and len(data) == n
    assert tx(card, "0084000000")[0] != tx(card, "0084000000")[0]


def test_get_challenge_errors(card: CardOS) -> None:
    assert tx(card, "00840000")[1] == 0x6700
    assert tx(card, "0084000000000101")[1] == 0x6700  # extended Le 257
    assert tx(card, "0084010008")[1] == 0x6A86


def test_get_challenge_deterministic_with_seed(profile: CardProfile) -> None:
    a, b = CardOS(profile, challenge_seed=7), CardOS(profile, challenge_seed=7)
    seq_a = [tx(a, "0084000008")[0] for _ in range(3)]
    seq_b = [tx(b, "0084000008")[0] for _ in range(3)]
    assert seq_a == seq_b and len(set(seq_a)) == 3
    c = CardOS(profile.replace(challenge_seed=7))
    assert tx(c, "0084000008")[0] == seq_a[0]
    assert tx(CardOS(profile, challenge_seed=8), "0084000008")[0] != seq_a[0]


# --------------------------------------------------------------------------- VERIFY
def test_verify_status_query_always_63cx(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert tx(card, "00200080")[1] == 0x63C3
    assert verify(card, "1234") == 0x9000
    assert tx(card, "00200080")[1] == 0x63C3  # verified: still 63 Cx, x = max
    select_ef(card, "001B")
    assert tx(card, "00200080")[1] == 0x63C5


def test_verify_wrong_pin_decrements_and_blocks(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert verify(card, "0000") == 0x63C2
    assert verify(card, "0001") == 0x63C1
    assert tx(card, "00200080")[1] == 0x63C1
    assert verify(card, "0002") == 0x63C0
    assert tx(card, "00200080")[1] == 0x63C0  # blocked: status still 63 C0
    assert verify(card, "1234") == 0x6984  # even the right PIN
    assert verify(card, "9999") == 0x6984
    assert card.pin("jpki", 0x18).tries_left == 0
    select_ef(card, "0017")
    assert sign(card, digest_info(b"x"))[1] == 0x6982


def test_verify_success_resets_counter(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "001B")
    assert verify(card, "WRONG1") == 0x63C4
    assert verify(card, "WRONG2") == 0x63C3
    assert verify(card, "ABC123") == 0x9000
    assert tx(card, "00200080")[1] == 0x63C5


def test_verify_wrong_length_does_not_decrement(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert verify(card, "123") == 0x6700
    assert verify(card, "12345") == 0x6700
    assert tx(card, "00200080")[1] == 0x63C3
    select_ef(card, "001B")
    assert verify(card, "ABC12") == 0x6700
    assert verify(card, "A" * 17) == 0x6700
    assert tx(card, "00200080")[1] == 0x63C5


def test_wrong_verify_clears_verified_flag(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert verify(card, "1234") == 0x9000
    assert verify(card, "0000") == 0x63C2
    select_ef(card, "0017")
    assert sign(card, digest_info(b"x"))[1] == 0x6982


def test_verify_by_sfi_reference(card: CardOS) -> None:
    select_aid(card, TEXT_AID)
    assert tx(card, "00200091")[1] == 0x63C3  # 0011 by SFI
    assert verify(card, "1234", p2=0x91) == 0x9000
    assert card.current_ef is None  # a reference, not a selection
    assert tx(card, "00200094")[1] == 0x63CA  # 照合番号A: 10 tries
    assert tx(card, "00200093")[1] == 0x6A88  # no PIN 0013 in the text AP
    select_ef(card, "0001")
    data, sw = tx(card, "00B0000000")
    assert sw == 0x9000 and data[3:15] == SAMPLE_MY_NUMBER.encode() and len(data) == 17


def test_verify_reference_errors(card: CardOS) -> None:
    assert tx(card, "00200080")[1] == 0x6986  # nothing selected
    assert tx(card, "00200098")[1] == 0x6A88  # no DF
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    assert tx(card, "00200080")[1] == 0x6981  # not a PIN
    assert tx(card, "00200000")[1] == 0x6A86
    assert tx(card, "00200180")[1] == 0x6A86
    assert tx(card, "002000FF")[1] == 0x6A86


def test_verify_with_stray_le_is_a_status_query(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert tx(card, "0020008000")[1] == 0x63C3


def test_tries_left_above_15_fit_the_nibble(keys: tuple[str, str]) -> None:
    pj = sample_profile_json(auth_key_pem=keys[0], sign_key_pem=keys[1])
    pj["applications"][1]["files"][4]["max_tries"] = 15
    card = CardOS(CardProfile.from_json(pj))
    select_aid(card, TEXT_AID)
    assert tx(card, "00200094")[1] == 0x63CF


def test_blocked_pin_from_profile(keys: tuple[str, str]) -> None:
    pj = sample_profile_json(auth_key_pem=keys[0], sign_key_pem=keys[1])
    pj["applications"][0]["files"][6]["tries_left"] = 0  # 0018
    card = CardOS(CardProfile.from_json(pj))
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert tx(card, "00200080")[1] == 0x63C0
    assert verify(card, "1234") == 0x6984


# --------------------------------------------------------------------------- security state
def test_reselect_of_df_clears_security_state(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    verify(card, "1234")
    select_ef(card, "0017")
    assert sign(card, digest_info(b"a"))[1] == 0x9000
    select_aid(card, JPKI_AID)  # OpenSC logout
    select_ef(card, "0017")
    assert sign(card, digest_info(b"a"))[1] == 0x6982


def test_select_other_df_clears_security_state(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "001B")
    verify(card, "ABC123")
    select_aid(card, TEXT_AID)
    assert card.verified_pins == frozenset()
    select_aid(card, JPKI_AID)
    select_ef(card, "0001")
    assert tx(card, "00B0000004")[1] == 0x6982


@pytest.mark.parametrize("event", ["reset", "power_off", "power_on"])
def test_power_events_clear_volatile_state_but_not_counters(card: CardOS, event: str) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "001B")
    assert verify(card, "WRONG1") == 0x63C4
    assert verify(card, "ABC123") == 0x9000
    assert verify(card, "WRONG1") == 0x63C4
    getattr(card, event)()
    assert card.current_df is None and card.current_ef is None
    assert card.verified_pins == frozenset()
    assert select_ef(card, "001B") == 0x6A82
    select_aid(card, JPKI_AID)
    select_ef(card, "001B")
    assert tx(card, "00200080")[1] == 0x63C4  # EEPROM: counter persisted


def test_selecting_efs_keeps_verified_state(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "001B")
    verify(card, "ABC123")
    for fid in ("0001", "0002", "000A", "0018", "001A"):
        select_ef(card, fid)
    assert card.verified_pins == {0x1B}


# --------------------------------------------------------------------------- CHANGE REFERENCE DATA
def test_change_pin_after_verify(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert tx(card, "002401800435363738")[1] == 0x6982  # not verified
    assert verify(card, "1234") == 0x9000
    assert tx(card, "0024018003353637")[1] == 0x6700  # too short
    assert tx(card, "002401800435363738")[1] == 0x9000
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert verify(card, "1234") == 0x63C2
    assert verify(card, "5678") == 0x9000
    assert card.to_profile().application("jpki").file(0x18).value == "5678"  # type: ignore


def test_change_pin_old_and_new(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert tx(card, "00240080083030303035363738")[1] == 0x63C2  # wrong old
    assert tx(card, "00240080083132333435363738")[1] == 0x9000
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert verify(card, "5678") == 0x9000
    assert tx(card, "002400800435363738")[1] == 0x6700  # no new value


def test_change_pin_blocked_and_errors(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    for _ in range(3):
        verify(card, "0000")
    assert tx(card, "002401800435363738")[1] == 0x6984
    assert tx(card, "00240280043536373800")[1] == 0x6A86
    assert tx(card, "00240180")[1] == 0x6700


# --------------------------------------------------------------------------- SIGN
def test_sign_sha256_digest_info(card: CardOS, keys: tuple[str, str]) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    verify(card, "1234")
    select_ef(card, "0017")
    data, sw = sign(card, digest_info(b"hello"))
    assert sw == 0x9000 and len(data) == 256
    public_key(keys[0]).verify(data, hashlib.sha256(b"hello").digest(), padding.PKCS1v15(),
                               utils.Prehashed(hashes.SHA256()))
    # same result as cryptography's own PKCS#1 v1.5 signature (deterministic scheme)
    priv = serialization.load_pem_private_key(keys[0].encode(), None)
    assert data == priv.sign(b"hello", padding.PKCS1v15(), hashes.SHA256())
    assert card.stats.signatures == 1


def test_sign_with_sign_key_needs_sign_pin(card: CardOS, keys: tuple[str, str]) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    verify(card, "1234")
    select_ef(card, "001A")
    assert sign(card, digest_info(b"m"))[1] == 0x6982
    select_ef(card, "001B")
    verify(card, "ABC123")
    select_ef(card, "001A")
    data, sw = sign(card, digest_info(b"m"))
    assert sw == 0x9000
    public_key(keys[1]).verify(data, b"m", padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("n", [1, 35, 51, 245])
def test_sign_raw_data_lengths(card: CardOS, keys: tuple[str, str], n: int) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    verify(card, "1234")
    select_ef(card, "0017")
    msg = bytes((i * 3) & 0xFF for i in range(n))
    data, sw = sign(card, msg, le=None)  # data returned even without Le
    assert sw == 0x9000 and len(data) == 256
    recovered = public_key(keys[0]).recover_data_from_signature(data, padding.PKCS1v15(), None)
    assert recovered == msg


def test_sign_too_long_is_6700(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    verify(card, "1234")
    select_ef(card, "0017")
    assert sign(card, bytes(246))[1] == 0x6700
    assert tx(card, "802A0080")[1] == 0x6700  # no data
    assert card.stats.signatures == 0


def test_sign_errors(card: CardOS) -> None:
    assert sign(card, b"x")[1] == 0x6986  # nothing selected
    select_aid(card, JPKI_AID)
    assert sign(card, b"x")[1] == 0x6986
    select_ef(card, "000A")
    assert sign(card, b"x")[1] == 0x6981
    select_ef(card, "0018")
    assert sign(card, b"x")[1] == 0x6981
    verify(card, "1234")
    select_ef(card, "0017")
    assert tx(card, "802A9E9A0101")[1] == 0x6A86
    assert tx(card, "802A00000101")[1] == 0x6A86


def test_sign_with_1024_bit_key() -> None:
    pem = new_key_pem(1024)
    card = CardOS(CardProfile.from_json(sample_profile_json(auth_key_pem=pem, sign_key_pem=pem)))
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    verify(card, "1234")
    select_ef(card, "0017")
    data, sw = sign(card, bytes(117))
    assert sw == 0x9000 and len(data) == 128
    assert sign(card, bytes(118))[1] == 0x6700


# --------------------------------------------------------------------------- stats & hooks
def test_stats_count_verify_with_data_exactly(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    tx(card, "00200080")  # query
    verify(card, "0000")  # wrong
    verify(card, "123")  # bad length: still a PIN submission
    verify(card, "1234")  # right
    tx(card, "0020008000")  # query with stray Le
    tx(card, "0220008000")  # channel 2: refused, but the card received a status query
    select_ef(card, "000A")
    verify(card, "1234")  # 6981, still a submission
    tx(card, "002401800435363738")
    s = card.stats
    assert s.verify_with_data == 4
    assert s.verify_status_queries == 3
    assert s.change_reference_data == 1
    assert s.apdus == 11
    s.clear()
    assert s.as_dict() == dict.fromkeys(s.as_dict(), 0)


def test_stats_power_events(profile: CardProfile) -> None:
    card = CardOS(profile)
    card.power_on()
    card.reset()
    card.power_off()
    assert (card.stats.power_ons, card.stats.resets, card.stats.power_offs) == (1, 1, 1)
    assert not card.powered


def test_command_log_hook(profile: CardProfile) -> None:
    seen: list[tuple[bytes, bytes]] = []
    card = CardOS(profile, command_log=lambda c, r: seen.append((c, r)))
    select_aid(card, JPKI_AID)
    tx(card, "00CC000000")
    assert seen == [(bytes.fromhex(f"00A4040C0A{JPKI_AID}"), b"\x90\x00"),
                    (bytes.fromhex("00CC000000"), b"\x6d\x00")]


def test_failing_command_log_hook_does_not_break_execute(profile: CardProfile) -> None:
    def boom(c: bytes, r: bytes) -> None:
        raise RuntimeError("hook")

    card = CardOS(profile, command_log=boom)
    assert select_aid(card, JPKI_AID) == 0x9000


def test_handler_bug_gives_6f00(card: CardOS, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(cmd: CommandApdu) -> bytes:
        raise KeyError("bug")

    monkeypatch.setitem(card._handlers, (0x00, 0xB0), broken)
    assert tx(card, "00B0000001") == (b"", 0x6F00)


def test_repr_of_pin_does_not_leak_value(card: CardOS) -> None:
    pin = card.pin("jpki", 0x1B)
    assert isinstance(pin, PinIEF)
    assert "ABC123" not in repr(pin)
    assert "ABC123" not in repr(card.profile)


def test_to_profile_roundtrip_keeps_counters(card: CardOS) -> None:
    select_aid(card, JPKI_AID)
    select_ef(card, "001B")
    verify(card, "WRONG1")
    p2 = CardProfile.parse(bytes(card.to_profile()))
    card2 = CardOS(p2)
    select_aid(card2, JPKI_AID)
    select_ef(card2, "001B")
    assert tx(card2, "00200080")[1] == 0x63C4
    assert verify(card2, "ABC123") == 0x9000


# --------------------------------------------------------------------------- canonical sequences
def test_sequence_read_auth_cert_extended(card: CardOS) -> None:
    """card-interface.md §9: read auth cert, header then one extended read."""
    assert tx(card, f"00A4040C0A{JPKI_AID}") == (b"", 0x9000)
    assert tx(card, "00A4020C02000A") == (b"", 0x9000)
    head, sw = tx(card, "00B0000004")
    assert sw == 0x9000 and head == bytes.fromhex("3082061F")
    size = int.from_bytes(head[2:4], "big") + 4
    rest, sw = tx(card, CommandApdu(0, 0xB0, 0, 4, le=size - 4).encode())
    assert sw == 0x9000 and head + rest == fake_der(1571, 3)


def test_sequence_read_auth_cert_gebo_blocks(card: CardOS) -> None:
    """Short 256-byte blocks with P1 = block index until the cert size."""
    select_aid(card, JPKI_AID)
    select_ef(card, "000A")
    out = b""
    for block in range(7):
        data, sw = tx(card, f"00B0{block:02X}0000")
        assert sw == 0x9000
        out += data
    assert out == fake_der(1571, 3)


def test_sequence_sign_with_sign_key(card: CardOS, keys: tuple[str, str]) -> None:
    """§9: SELECT JPKI, SELECT 001B, VERIFY, SELECT 001A, 80 2A 00 80 33 <DigestInfo> 00."""
    select_aid(card, JPKI_AID)
    assert tx(card, "00A4020C02001B")[1] == 0x9000
    assert tx(card, "00200080064142433132" + "33")[1] == 0x9000
    assert tx(card, "00A4020C02001A")[1] == 0x9000
    di = digest_info(b"document")
    data, sw = tx(card, "802A008033" + di.hex() + "00")
    assert sw == 0x9000 and len(data) == 256
    public_key(keys[1]).verify(data, b"document", padding.PKCS1v15(), hashes.SHA256())


def test_sequence_pin_status_all_pins(card: CardOS) -> None:
    """§9: myna pin status."""
    expected = {(TEXT_AID, "0011"): 0x63C3, (TEXT_AID, "0014"): 0x63CA,
                (TEXT_AID, "0015"): 0x63CA, (VISUAL_AID, "0013"): 0x63CA,
                (VISUAL_AID, "0012"): 0x63CA, (JPKI_AID, "0018"): 0x63C3,
                (JPKI_AID, "001B"): 0x63C5, (JUKI_AID, "001C"): 0x63C3}
    for (aid, fid), sw in expected.items():
        assert select_aid(card, aid) == 0x9000
        assert select_ef(card, fid) == 0x9000
        assert tx(card, "00200080")[1] == sw
    assert card.stats.verify_with_data == 0


def test_sequence_read_my_number_and_4info(card: CardOS, profile_json: dict) -> None:
    """§9: select text AP, verify 0011, read 0001 (Le 00) and 0002."""
    select_aid(card, TEXT_AID)
    select_ef(card, "0001")
    assert tx(card, "00B0000011")[1] == 0x6982
    select_ef(card, "0011")
    assert tx(card, "00200080" + "04" + b"1234".hex())[1] == 0x9000
    select_ef(card, "0001")
    data, sw = tx(card, "00B0000011")
    assert sw == 0x9000
    assert data == b"\xff\x10\x0c" + SAMPLE_MY_NUMBER.encode() + b"\xff\xff"
    assert tx(card, "00B0000000") == (data, 0x9000)
    select_ef(card, "0002")
    head, sw = tx(card, "00B0000003")
    assert sw == 0x9000 and head[:2] == b"\xff\x20"
    body, sw = tx(card, f"00B00003{head[2]:02X}")
    assert sw == 0x9000 and len(body) == head[2]


def test_sequence_read_my_number_with_pin_a(card: CardOS) -> None:
    select_aid(card, TEXT_AID)
    select_ef(card, "0014")
    assert verify(card, SAMPLE_PINS[("text", 0x14)]) == 0x9000
    select_ef(card, "0001")
    assert tx(card, "00B0000000")[1] == 0x9000
    select_ef(card, "0002")  # 照合番号A does not open the 4 info
    assert tx(card, "00B0000000")[1] == 0x6982


def test_sequence_card_face_with_pin_a(card: CardOS) -> None:
    select_aid(card, VISUAL_AID)
    select_ef(card, "0013")
    assert verify(card, SAMPLE_MY_NUMBER) == 0x9000
    select_ef(card, "0002")
    data, sw = tx(card, "00B0000000")
    assert sw == 0x9000 and data.startswith(b"\xff\x20\x82")


def test_sequence_opensc_pkcs15_bind_and_sign(card: CardOS, keys: tuple[str, str]) -> None:
    """virtual-card-stack.md §8: OpenSC bind trace, then pkcs11-tool --sign."""
    assert tx(card, f"00A4040C0A{JPKI_AID}")[1] == 0x9000
    assert tx(card, "00A4020C020018")[1] == 0x9000
    assert tx(card, "00200080")[1] == 0x63C3
    assert tx(card, "00A4020C02001B")[1] == 0x9000
    assert tx(card, "00200080")[1] == 0x63C5
    assert tx(card, "00A4020C02000A")[1] == 0x9000
    head, sw = tx(card, "00B0000004")
    size = int.from_bytes(head[2:4], "big") + 4
    out, off = b"", 0
    while off < size:
        n = min(256, size - off)
        data, sw = tx(card, CommandApdu(0, 0xB0, off >> 8, off & 0xFF, le=n).encode())
        assert sw == 0x9000 and len(data) == n
        out += data
        off += n
    assert out == fake_der(1571, 3)
    assert tx(card, "00A4020C020018")[1] == 0x9000
    assert tx(card, "002000800431323334")[1] == 0x9000
    assert tx(card, "00A4020C020017")[1] == 0x9000
    data, sw = tx(card, "802A008033" + digest_info(b"tbs").hex() + "00")
    assert sw == 0x9000
    public_key(keys[0]).verify(data, b"tbs", padding.PKCS1v15(), hashes.SHA256())
    assert card.stats.verify_with_data == 1
    assert card.stats.verify_status_queries == 2


def test_opensc_probe_sequence_never_9000(card: CardOS) -> None:
    probes = ["00A4040007627601FF000000", "00A4040006A00000000101",
              "00A404000CE82B0601040181C31F020100", "00A404000CF276A288BCFBA69D34F31001",
              "00A404000AA0000003974254465900", "00A4040007D2760001240100",
              "00A404000AA0000003080000100000", "00A4040C0FD23300000045737445494420763335",
              "00A4040C08A0000001 16DB0000".replace(" ", ""), "00A4040C08A000000079100000",
              "00CADF3005", "00CB3FFF035C017E08"]
    for p in probes:
        data, sw = tx(card, p)
        assert sw != 0x9000 and sw >> 8 not in (0x61, 0x6C) and data == b""


# --------------------------------------------------------------------------- fuzz
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_raise(card: CardOS, raw: bytes) -> None:
    r = card.execute(raw)
    assert isinstance(r, bytes) and len(r) >= 2
    assert r[-2] not in (0x61, 0x6C)
    assert r[-2:] != b"\x6f\x00"  # 6F00 = a handler raised something unexpected


_headers = st.tuples(st.sampled_from([0x00, 0x80, 0x01, 0x0C, 0x10, 0xFF]),
                     st.sampled_from([0xA4, 0xB0, 0xB2, 0x84, 0x20, 0x24, 0x2A, 0xCA]),
                     st.integers(0, 255), st.integers(0, 255))


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_headers, st.binary(max_size=40),
                          st.one_of(st.none(), st.integers(1, 65536))), max_size=8))
def test_fuzz_structured_sequences(card: CardOS, cmds) -> None:
    select_aid(card, JPKI_AID)
    for (cla, ins, p1, p2), data, le in cmds:
        raw = CommandApdu(cla, ins, p1, p2, data, le=le).encode()
        r = card.execute(raw)
        assert len(r) >= 2 and r[-2] not in (0x61, 0x6C)
        assert r[-2:] != b"\x6f\x00"  # no internal error
        if r[-2:] != b"\x90\x00":
            assert len(r) == 2  # errors never carry data


@pytest.mark.parametrize("hash_name", ["sha1", "sha224", "sha256", "sha384", "sha512"])
def test_digest_info_signed_by_cryptography_equals_the_raw_pkcs1_block(
    keys: tuple[str, str], hash_name: str
) -> None:
    """A canonical DigestInfo goes through cryptography; the result must be the very
    signature of the type-01 block over the bytes the client sent (the raw path)."""
    import hashlib

    from asn1crypto.algos import DigestInfo
    from asn1crypto.core import Null

    from jukicard.emulator.fs import KeyIEF
    from jukicard.emulator.profile import AccessCondition, RsaKeySpec
    from jukicard.emulator.securitycmds import (
        _DIGEST_INFO_PREFIXES,
        _pow_pkcs1_sign,
        _raw_rsa_pkcs1_sign,
    )

    key = KeyIEF(0x17, RsaKeySpec(0x17, keys[0], AccessCondition.ALWAYS))
    # canonical form (RFC 8017 §9.2): NULL parameters present, as OpenSC and jukicard send
    data = DigestInfo({"digest_algorithm": {"algorithm": hash_name, "parameters": Null()},
                       "digest": hashlib.new(hash_name, b"m").digest()}).dump()
    assert any(data.startswith(p) for p in _DIGEST_INFO_PREFIXES)  # the cryptography path
    assert _raw_rsa_pkcs1_sign(key, data) == _pow_pkcs1_sign(key, data)
    odd = b"\x01\x02\x03 not a DigestInfo"
    assert _raw_rsa_pkcs1_sign(key, odd) == _pow_pkcs1_sign(key, odd)


# --------------------------------------------------------------------------- issue 8 defects
def test_one_sw_enum_and_blocked_is_6984(card: CardOS) -> None:
    """Old code: the emulator had its own ``SW`` whose ``AUTH_METHOD_BLOCKED`` was 6984
    (6983 in :mod:`jukicard.apdu.sw`)."""
    import jukicard.emulator as emulator
    from jukicard.apdu.sw import SW

    assert emulator.SW is SW
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    for _ in range(3):
        verify(card, "0000")
    assert verify(card, "1234") == SW.REFERENCE_DATA_NOT_USABLE == 0x6984


def test_change_refuses_non_ascii_and_the_card_stays_exportable(card: CardOS) -> None:
    """Old code: any bytes became the new PIN, and ``to_profile`` then raised
    ``UnicodeDecodeError``."""
    select_aid(card, JPKI_AID)
    select_ef(card, "0018")
    assert verify(card, "1234") == 0x9000
    assert tx(card, "0024018004" + "31C3A932")[1] == 0x6A80  # "1é2": 4 bytes, not ASCII
    assert card.to_profile().application("jpki").file(0x18).value == "1234"  # type: ignore


@pytest.mark.parametrize(
    ("fid", "old", "new", "sw"),
    [
        ("001B", "ABC123", "ABCDEF", 0x6A80),  # a new sign password needs a digit
        ("001B", "ABC123", "123456", 0x6A80),  # ... and a letter
        ("001B", "ABC123", "abc123", 0x6A80),  # A-Z only (clients upper-case)
        ("001B", "ABC123", "AB12", 0x6700),  # 6..16
        ("0018", "1234", "12a4", 0x6A80),  # digits only
        ("0018", "1234", "5678", 0x9000),
        ("001B", "ABC123", "XYZ789", 0x9000),
    ],
)
def test_change_applies_the_pin_format(card: CardOS, fid: str, old: str, new: str,
                                       sw: int) -> None:
    """Old code: only the length of the new value was checked."""
    select_aid(card, JPKI_AID)
    select_ef(card, fid)
    assert verify(card, old) == 0x9000
    assert tx(card, CommandApdu(0, 0x24, 0x01, 0x80, new.encode()).encode())[1] == sw
    stored = card.to_profile().application("jpki").file(int(fid, 16)).value  # type: ignore
    assert stored == (new if sw == 0x9000 else old)


def test_change_old_and_new_does_not_reveal_the_stored_length(card: CardOS) -> None:
    """Old code: ``old ‖ new`` was split at the stored value's length before any check, so
    ``6700`` (free) for data up to that length and ``63Cx`` (one try) above it told the
    length of the sign password."""
    select_aid(card, JPKI_AID)
    select_ef(card, "001B")
    data = b"A1" * 20
    answers = {n: tx(card, CommandApdu(0, 0x24, 0x00, 0x80, data[:n]).encode())[1]
               for n in range(1, 41)}
    assert set(answers.values()) == {0x6A86}
    assert card.pin("jpki", 0x1B).tries_left == 5


def test_execute_never_raises_with_debug_logging(card: CardOS,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Old code: the DEBUG line did ``bytes(apdu[:4])`` outside the ``try``: input that is
    not a byte string raised out of ``execute``."""
    caplog.set_level(logging.DEBUG, logger="jukicard.emulator.cardos")
    for bad in (None, [0x00, 0x1A4, 0x00, 0x00], "00A4040C", 42):
        assert card.execute(bad)[-2:] == b"\x67\x00"  # type: ignore[arg-type]
    assert card.execute([0x00, 0xA4, 0x00, 0x00])[-2:] == b"\x90\x00"  # type: ignore[arg-type]


def test_pin_files_carry_the_facts_format(profile: CardProfile) -> None:
    """The emulator's PIN files carry the one PinSpec of the facts (old code: a second
    class named PinSpec, with no format rules)."""
    from jukicard.apdu.apps import JpkiPin, JukiJpkiPin
    from jukicard.emulator.profile import PinFileSpec, ProfileError, load_profile

    sign = profile.application("jpki").file(0x1B)
    assert isinstance(sign, PinFileSpec) and sign.format is JpkiPin.SIGN.spec
    juki = load_profile("juki-01").application("jpki").file(0x1B)
    assert isinstance(juki, PinFileSpec) and juki.format is JukiJpkiPin.SIGN.spec
    bad = sample_profile_json(auth_key_pem=new_key_pem(1024), sign_key_pem=new_key_pem(1024))
    jpki = bad["applications"][0]
    next(f for f in jpki["files"] if f["fid"] == "0018")["value"] = "12a4"
    with pytest.raises(ProfileError, match="does not fit"):
        CardProfile.from_json(bad)
