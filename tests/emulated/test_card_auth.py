"""Card authentication on the 券面事項入力補助AP (issue 11, "the card proves itself"),
in-process against the emulated card: the good run, a cloned card, a replayed signature, a
tampered CV certificate and a test CV CA key under the production policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from emulated_support import PINS, Emulated, ForeignTransport, MakeCard, PinLedger, find_file
from emulated_support import profile_json as load_json

from jukicard.card.cardauth import (
    CardAuthPolicy,
    CvCaKey,
    SignedCardKey,
    TrustLevel,
    verify_card_authentication,
)
from jukicard.card.cvc import CvCertificate
from jukicard.card.text import TextSession
from jukicard.emulator.sample import new_key_pem
from jukicard.errors import (
    CardAuthenticationError,
    DataIntegrityError,
    IssuerKeyMismatchError,
    SecurityStatusError,
    UntrustedIssuerError,
    UsageError,
)

ROOT = Path(__file__).resolve().parents[2]
TEST_ROOT = CvCertificate.parse((ROOT / "vectors/pki/cv/jlis-root.cvc").read_bytes())
TEST_ANCHOR = CvCaKey.from_cv_certificate(TEST_ROOT, production=False,
                                          provenance="vectors/pki/cv/jlis-root.cvc (pkigen)")
TEST_POLICY = CardAuthPolicy((TEST_ANCHOR,), production=False)
PRODUCTION_ID = b"5000033" + b"\x08\x05" + b"001" + b"\x00" * 4


def _fixed_rng(n: int) -> bytes:
    return bytes(range(n))


def test_good_run_verifies_to_the_test_ca(mynumber: Emulated, pins: PinLedger) -> None:
    text = TextSession(mynumber.transport)
    result = text.authenticate_card(pin=pins.submit(PINS["text"]), policy=TEST_POLICY)
    assert result.level is TrustLevel.VERIFIED_TO_JLIS_CA and result.verified_to_jlis_ca
    assert result.ca_key_id == TEST_ROOT.chr and result.ca_production is False
    assert result.to_dict()["result"] == "verified-to-jlis-ca"
    assert len(result.card_challenge) == 16 and len(result.host_nonce) == 16
    assert mynumber.card.stats.signatures == 1
    # the signature APDU is 80 2A 00 00 (the AP's default key, no SELECT of 0013)
    sign = [c for c in mynumber.sent if c[:2] == b"\x80\x2a"]
    assert len(sign) == 1 and sign[0][2:4] == b"\x00\x00"
    assert b"\x00\xa4\x02\x0c\x02\x00\x13" not in mynumber.sent


def test_without_a_policy_only_self_consistent(mynumber: Emulated, pins: PinLedger) -> None:
    text = TextSession(mynumber.transport)
    result = text.authenticate_card(match_b=pins.submit(find_file(
        load_json("mynumber-01"), "text", "0015")["value"]))
    assert result.level is TrustLevel.SELF_CONSISTENT_ONLY
    assert result.ca_production is None


def test_no_credential_no_verify_sent(mynumber: Emulated) -> None:
    """EF 0007 needs a credential: without one nothing is VERIFYed and the card says no."""
    with pytest.raises(SecurityStatusError):
        TextSession(mynumber.transport).authenticate_card(policy=TEST_POLICY)
    assert mynumber.card.stats.verify_with_data == 0


def test_earlier_verify_is_relied_on(mynumber: Emulated, pins: PinLedger) -> None:
    text = TextSession(mynumber.transport)
    text.verify(text.PINS[0], pins.submit(PINS["text"]))
    assert text.authenticate_card(policy=TEST_POLICY).verified_to_jlis_ca
    assert mynumber.card.stats.verify_with_data == 1


def test_cloned_card_right_data_wrong_key(make_card: MakeCard, pins: PinLedger) -> None:
    """A clone: every EF copied, but the card key IEF 0013 is another key."""
    prof = load_json("mynumber-01")
    find_file(prof, "text", "0013")["private_key_pem"] = new_key_pem()
    clone = make_card(data=prof)
    with pytest.raises(CardAuthenticationError):
        TextSession(clone.transport).authenticate_card(pin=pins.submit(PINS["text"]),
                                                       policy=TEST_POLICY)


class ReplayingCloneTransport(ForeignTransport):
    """Stands in for a clone that answers GET CHALLENGE and the signature command with the
    responses recorded from the genuine card in an earlier run."""

    __slots__ = ("recorded",)

    def __init__(self, inner: object, recorded: dict[int, tuple[bytes, int]]) -> None:
        super().__init__(inner)  # type: ignore[arg-type]
        self.recorded = recorded

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if len(apdu) > 1 and apdu[1] in self.recorded:
            return self.recorded[apdu[1]]
        return self.inner.transmit(apdu)


def test_replayed_signature_does_not_verify(make_card: MakeCard, pins: PinLedger) -> None:
    """A recorded (challenge, signature) pair replayed: the host nonce is new, so it fails —
    even with a card whose challenges repeat (same seed) and a host rng that repeats too."""
    genuine = make_card(challenge_seed=7)
    first = TextSession(genuine.transport).authenticate_card(
        pin=pins.submit(PINS["text"]), policy=TEST_POLICY)
    recorded = {0x84: (first.card_challenge, 0x9000), 0x2A: (first.signature, 0x9000)}
    replayer = make_card(challenge_seed=7)
    transport = ReplayingCloneTransport(replayer.transport, recorded)
    with pytest.raises(CardAuthenticationError):
        TextSession(transport).authenticate_card(pin=pins.submit(PINS["text"]),
                                                 policy=TEST_POLICY)
    # the same replay with the same host nonce would pass: the nonce is what refuses it
    same = verify_card_authentication(
        application="text", cv_ef=find_bytes("0004"), card_key_ef=find_bytes("0007"),
        card_challenge=first.card_challenge, host_nonce=first.host_nonce,
        signature=first.signature, policy=TEST_POLICY)
    assert same.verified_to_jlis_ca


def find_bytes(fid: str) -> bytes:
    return bytes.fromhex(find_file(load_json("mynumber-01"), "text", fid)["data"])


def _tampered_cv_card(make_card: MakeCard) -> Emulated:
    prof = load_json("mynumber-01")
    entry = find_file(prof, "text", "0004")
    cv = bytearray(bytes.fromhex(entry["data"]))
    cv[200] ^= 0x01  # inside the certified modulus
    entry["data"] = cv.hex().upper()
    return make_card(data=prof)


def test_tampered_cv_certificate_under_policy(make_card: MakeCard, pins: PinLedger) -> None:
    card = _tampered_cv_card(make_card)
    with pytest.raises(IssuerKeyMismatchError):
        TextSession(card.transport).authenticate_card(pin=pins.submit(PINS["text"]),
                                                      policy=TEST_POLICY)


def test_tampered_cv_certificate_without_policy(make_card: MakeCard, pins: PinLedger) -> None:
    card = _tampered_cv_card(make_card)
    with pytest.raises(CardAuthenticationError):
        TextSession(card.transport).authenticate_card(pin=pins.submit(PINS["text"]))


def test_test_ca_refused_by_production_policy(mynumber: Emulated, pins: PinLedger) -> None:
    """The test card's CV certificate names the pkigen test CA; a production policy (with
    a production-flagged key) refuses it with a typed error."""
    prod_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    policy = CardAuthPolicy((CvCaKey(PRODUCTION_ID, prod_key, True, "unit test"),))
    with pytest.raises(UntrustedIssuerError) as info:
        TextSession(mynumber.transport).authenticate_card(pin=pins.submit(PINS["text"]),
                                                          policy=policy)
    assert info.value.ca_key_id == TEST_ROOT.chr


def test_test_key_refused_in_production_policy() -> None:
    with pytest.raises(UsageError):
        CardAuthPolicy((TEST_ANCHOR,))  # production is the default
    key = TEST_ROOT.public_key()
    with pytest.raises(UsageError):
        CvCaKey(b"6000033" + PRODUCTION_ID[7:], key, True)
    with pytest.raises(UsageError):
        CvCaKey(TEST_ROOT.chr, key, True)  # pkigen's 999… id is no production id


def test_bad_rng_refused_before_anything_is_sent(mynumber: Emulated) -> None:
    text = TextSession(mynumber.transport)  # the constructor selects the AP
    before = mynumber.card.stats.apdus
    with pytest.raises(UsageError):
        text.authenticate_card(pin="1234", rng=lambda n: b"x")
    assert mynumber.card.stats.apdus == before


def test_fixed_rng_is_used(mynumber: Emulated, pins: PinLedger) -> None:
    result = TextSession(mynumber.transport).authenticate_card(
        pin=pins.submit(PINS["text"]), policy=TEST_POLICY, rng=_fixed_rng)
    assert result.host_nonce == bytes(range(16))


def test_signed_card_key_round_trip_and_damage() -> None:
    raw = find_bytes("0007")
    sck = SignedCardKey.parse(raw)
    assert bytes(sck) == raw.rstrip(b"\xff") or bytes(sck) == raw
    assert len(sck.key_tlv) == 5 + 265  # DF51 82 0109 + 90 03 e + 91 82 0100 n
    with pytest.raises(DataIntegrityError):
        verify_card_authentication(application="text", cv_ef=find_bytes("0004"),
                                   card_key_ef=raw[:100], card_challenge=b"",
                                   host_nonce=b"", signature=b"", policy=None)


def test_emulator_challenges_change_and_default_key(make_card: MakeCard) -> None:
    card = make_card(challenge_seed=1).card
    get = bytes.fromhex("0084000010")
    a, b = card.execute(get), card.execute(get)
    assert a[-2:] == b[-2:] == b"\x90\x00" and a != b
    sign = bytes.fromhex("802A0000") + bytes((51,)) + bytes(51) + b"\x00"
    assert card.execute(sign)[-2:] == b"\x6a\x86"  # no application: no default key
    card.execute(bytes.fromhex("00A4040C0AD3921000310001010408"))  # text AP
    assert len(card.execute(sign)) == 258  # no credential needed
    card.execute(bytes.fromhex("00A4040C0AD392F000260100000001"))  # JPKI: no default key
    assert card.execute(sign)[-2:] == b"\x6a\x86"
