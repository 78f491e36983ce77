"""Review of issue 11, card-data authenticity: 券面AP records checked against a trusted CV
CA (VIS-5), each CV CA bound to its application (CARDAUTH-6) and honest labels for where
the trust came from (CARDAUTH-7).  In-process, against the emulated card.

Each test that fixes a gap says what the old code did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from emulated_support import PINS, Emulated, MakeCard, PinLedger, find_file
from emulated_support import profile_json as load_json
from test_cli_card import Cli

from jukicard.card import cvca
from jukicard.card.cardauth import CardAuthPolicy, CvCaKey, TrustLevel
from jukicard.card.cvc import CvCertificate
from jukicard.card.text import TextSession
from jukicard.card.visual import VisualSession
from jukicard.card.visual_data import VisualBirth, VisualEntries
from jukicard.errors import (
    CvCaApplicationError,
    CvCaSignatureError,
    DataIntegrityError,
    UntrustedIssuerError,
    UsageError,
)

ROOT = Path(__file__).resolve().parents[2]
CA_FILE = str(ROOT / "vectors/pki/cv/jlis-root.cvc")
TEST_ROOT = CvCertificate.parse(Path(CA_FILE).read_bytes())
TEST_ANCHOR = CvCaKey.from_cv_certificate(TEST_ROOT, production=False)
TEST_POLICY = CardAuthPolicy((TEST_ANCHOR,), production=False)
TEST_KEYS = ("--allow-test-keys", "--ca-key", CA_FILE)
#: bundled key ids (the manifest)
VISUAL_PROD = bytes.fromhex("35303030303233080530303100000000")
TEXT_PROD = bytes.fromhex("35303030303333080530303100000000")
MF_PROD = bytes.fromhex("353030303032300805303031000000A8")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, make_card: MakeCard,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, make_card, capsys)


def _value(prof: dict[str, Any], app: str, fid: str) -> str:
    return str(find_file(prof, app, fid)["value"])


def _verifies(card: Emulated) -> int:
    return sum(1 for c in card.sent if c[1] == 0x20 and len(c) > 5)


def _tampered_entries() -> dict[str, Any]:
    """The genuine card with one byte of EF 0002 (inside the photo) changed."""
    prof = load_json("mynumber-01")
    entry = find_file(prof, "visual", "0002")
    raw = bytearray.fromhex(entry["data"])
    raw[len(raw) // 2] ^= 0x01
    entry["data"] = raw.hex().upper()
    return prof


def _recertified(app: str, ca_id: bytes) -> tuple[dict[str, Any], rsa.RSAPrivateKey]:
    """The genuine card with ``app``'s CV certificate re-issued by a fresh CA ``ca_id``
    (same holder, same key: every record still verifies under it)."""
    prof = load_json("mynumber-01")
    entry = find_file(prof, app, "0004")
    cv = CvCertificate.parse(bytes.fromhex(entry["data"]))
    ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    entry["data"] = bytes(CvCertificate.create(ca_id, cv.chr, cv.public_key(), ca)).hex()
    return prof, ca


# --------------------------------------------------------------------------- 1. visual data
def test_visual_read_says_not_checked_by_default(mynumber: Emulated, pins: PinLedger) -> None:
    """Old code: the entries carried no trust level at all — nothing said they were not
    checked.  The default still reads exactly as before (no EF 0004 read)."""
    prof = load_json("mynumber-01")
    got = VisualSession(mynumber.transport).read_entries(
        match_b=pins.submit(_value(prof, "visual", "0012")))
    assert got.trust_level == "not-checked"
    assert got.authenticity.level is TrustLevel.NOT_CHECKED
    assert got == VisualEntries.parse(bytes.fromhex(find_file(prof, "visual", "0002")["data"]))
    assert not any(c[:4] == b"\x00\xa4\x02\x0c" and c[5:7] == b"\x00\x04" for c in mynumber.sent)


def test_visual_read_verified_to_the_test_ca(mynumber: Emulated, pins: PinLedger) -> None:
    """Old code: ``read_entries`` had no way to check the record (TypeError on
    ``policy=``): only ``authenticate_card`` checked the chain."""
    prof = load_json("mynumber-01")
    got = VisualSession(mynumber.transport).read_entries(
        match_b=pins.submit(_value(prof, "visual", "0012")), policy=TEST_POLICY)
    a = got.authenticity
    assert got.trust_level == "verified-to-jlis-ca" and a.ca_key_id == TEST_ROOT.chr
    assert a.ca_production is False and a.ca_kind == "test" and a.ca_source == "caller"
    assert a.records == (0x0002,)
    assert {"expiry", "security_code_png"} <= set(a.unsigned_items)  # VIS-1: never signed
    assert _verifies(mynumber) == 1


def test_visual_read_self_consistent_without_a_policy(mynumber: Emulated,
                                                      pins: PinLedger) -> None:
    prof = load_json("mynumber-01")
    got = VisualSession(mynumber.transport).read_entries(
        match_a=pins.submit(_value(prof, "visual", "0013")), verify=True)
    assert got.trust_level == "self-consistent-only" and got.authenticity.ca_source is None
    assert got.authenticity.ca_production is None


def test_visual_birth_verified(mynumber: Emulated, pins: PinLedger) -> None:
    prof = load_json("mynumber-01")
    got = VisualSession(mynumber.transport).read_birth(
        pins.submit(_value(prof, "visual", "0011")), policy=TEST_POLICY)
    assert isinstance(got, VisualBirth) and got.trust_level == "verified-to-jlis-ca"
    assert got.authenticity.records == (0x0001,) and got.authenticity.unsigned_items == ()


def test_visual_test_ca_refused_by_the_bundled_production_policy(mynumber: Emulated,
                                                                 pins: PinLedger) -> None:
    prof = load_json("mynumber-01")
    with pytest.raises(UntrustedIssuerError, match="9990000"):
        VisualSession(mynumber.transport).read_entries(
            match_b=pins.submit(_value(prof, "visual", "0012")), policy=cvca.policy())


def test_tampered_visual_record_is_a_typed_error(make_card: MakeCard, pins: PinLedger) -> None:
    """VIS-5: a tampered record is refused (DataIntegrityError), never returned with a
    lower label.  Old code: the tampered entries were returned as they were."""
    prof = _tampered_entries()
    card = make_card(data=prof)
    visual = VisualSession(card.transport)
    for kwargs in ({"verify": True}, {"policy": TEST_POLICY}):
        with pytest.raises(DataIntegrityError, match="EF 0002 is not signed"):
            visual.read_entries(match_b=pins.submit(_value(prof, "visual", "0012")),
                                **kwargs)  # type: ignore[arg-type]
    unchecked = visual.read_entries(match_b=pins.submit(_value(prof, "visual", "0012")))
    assert unchecked.trust_level == "not-checked"  # the unchecked read still says so


def test_visual_wrong_policy_costs_no_verify(mynumber: Emulated) -> None:
    with pytest.raises(UsageError):
        VisualSession(mynumber.transport).read_entries(
            match_b="1" * 14, policy="production")  # type: ignore[arg-type]
    assert _verifies(mynumber) == 0


# --------------------------------------------------------------------------- 2. CA binding
def test_text_certificate_naming_the_visual_ca_is_refused() -> None:
    """Old code: ``CvCaSignatureError`` at best — the text-AP certificate naming the
    bundled visual CA was checked under it; a certificate the visual CA really signed
    would have been accepted on the text AP.  Now the binding is checked first."""
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cv = CvCertificate.create(VISUAL_PROD, TEXT_PROD, forger.public_key(), forger)
    with pytest.raises(CvCaApplicationError) as info:
        cvca.policy().check_cv_certificate(cv, "text")
    assert not isinstance(info.value, CvCaSignatureError)
    msg = str(info.value)
    assert "5000023" in msg and "5000033" in msg and "visual AP" in msg
    assert info.value.ca_key_id == VISUAL_PROD and info.value.expected == (TEXT_PROD,)
    with pytest.raises(CvCaApplicationError, match="5000020"):  # the MF CA: no AP's
        cvca.policy().check_cv_certificate(
            CvCertificate.create(MF_PROD, TEXT_PROD, forger.public_key(), forger), "visual")
    with pytest.raises(CvCaSignatureError):  # the right level: checked as before
        cvca.policy().check_cv_certificate(
            CvCertificate.create(TEXT_PROD, TEXT_PROD, forger.public_key(), forger), "text")


def test_bundled_keys_carry_their_level_and_source() -> None:
    levels = {k.key_id[:7]: (k.application, k.source) for k in cvca.bundled_keys()}
    assert levels[b"5000023"] == levels[b"6000023"] == ("visual", "bundled")
    assert levels[b"5000033"] == levels[b"6000033"] == ("text", "bundled")
    assert levels[b"5000020"] == levels[b"6000020"] == ("MF", "bundled")
    fake = CvCaKey(TEST_ROOT.chr, TEST_ROOT.public_key(), False, source="bundled")
    with pytest.raises(UsageError, match="caller"):  # a caller key never claims "bundled"
        cvca.policy(allow_test_keys=True, extra=(fake,))
    with pytest.raises(UsageError):
        CvCaKey(TEST_ROOT.chr, TEST_ROOT.public_key(), False, application="jpki")


@pytest.mark.parametrize("app", ["text", "visual"])
def test_caller_ca_bound_to_the_other_ap_is_refused(make_card: MakeCard, pins: PinLedger,
                                                    app: str) -> None:
    """A caller key marked for one AP certifies the other AP's key: refused on both the
    data read and card authentication.  Old code: verified-to-jlis-ca (no binding; the
    ``application`` keyword did not exist)."""
    ca_id = b"9990099" + b"\x08\x05" + b"001" + b"\x00" * 4
    prof, ca = _recertified(app, ca_id)
    other = "visual" if app == "text" else "text"
    wrong = CardAuthPolicy((CvCaKey(ca_id, ca.public_key(), False, application=other),),
                           production=False)
    right = CardAuthPolicy((CvCaKey(ca_id, ca.public_key(), False, application=app),),
                           production=False)
    card = make_card(data=prof)
    if app == "text":
        text = TextSession(card.transport)
        with pytest.raises(CvCaApplicationError, match="9990099"):
            text.read_verified(pins.submit(PINS["text"]), policy=wrong)
        with pytest.raises(CvCaApplicationError):
            text.authenticate_card(pin=pins.submit(PINS["text"]), policy=wrong)
        assert text.read_verified(pins.submit(PINS["text"]),
                                  policy=right).trust_level == "verified-to-jlis-ca"
    else:
        visual = VisualSession(card.transport)
        match_b = _value(prof, "visual", "0012")
        with pytest.raises(CvCaApplicationError, match="9990099"):
            visual.read_entries(match_b=pins.submit(match_b), policy=wrong)
        with pytest.raises(CvCaApplicationError):
            visual.authenticate_card(match_b=pins.submit(match_b), policy=wrong)
        assert visual.read_entries(match_b=pins.submit(match_b),
                                   policy=right).trust_level == "verified-to-jlis-ca"


# --------------------------------------------------------------------------- 3. labels
def test_bare_caller_key_is_not_called_jlis(mynumber: Emulated, pins: PinLedger) -> None:
    """CARDAUTH-7.  Old code: ``verified-to-jlis-ca`` for any key the caller passed."""
    text = TextSession(mynumber.transport)
    bare = text.read_verified(pins.submit(PINS["text"]), issuer_key=TEST_ROOT)
    assert bare.trust_level == "verified-to-caller-key" and bare.ca_source == "caller"
    assert bare.ca_kind is None and bare.trusted  # signature_check unchanged
    ruled = text.read_verified(pins.submit(PINS["text"]), policy=TEST_POLICY)
    assert ruled.trust_level == "verified-to-jlis-ca"
    assert (ruled.ca_source, ruled.ca_kind) == ("caller", "test")
    own = text.read_verified(pins.submit(PINS["text"]))
    assert own.trust_level == "self-consistent-only" and own.ca_source is None


def test_bare_key_equal_to_a_bundled_key_stand_in_bundle(
        mynumber: Emulated, pins: PinLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-in: the bundled set is replaced by one holding the test card's CA as a
    bundled text-AP key (no real J-LIS private key exists to sign an emulated card).  A
    bare key equal to a bundled key is labelled as that bundled key."""
    stand_in = CvCaKey(TEST_ROOT.chr, TEST_ROOT.public_key(), False, application="text",
                       source="bundled")
    monkeypatch.setattr(cvca, "bundled_keys", lambda: (stand_in,))
    data = TextSession(mynumber.transport).read_verified(pins.submit(PINS["text"]),
                                                         issuer_key=TEST_ROOT.public_key())
    assert data.trust_level == "verified-to-jlis-ca"
    assert (data.ca_source, data.ca_kind) == ("bundled", "test")
    assert data.authenticity is not None and data.authenticity.ca_key_id == TEST_ROOT.chr


def test_card_authenticate_result_says_ca_source(mynumber: Emulated, pins: PinLedger) -> None:
    """Old code: no ``ca_source`` in the result or its JSON."""
    result = TextSession(mynumber.transport).authenticate_card(
        pin=pins.submit(PINS["text"]), policy=TEST_POLICY)
    assert result.ca_source == "caller" and result.to_dict()["ca_source"] == "caller"
    unchecked = TextSession(mynumber.transport).authenticate_card(
        pin=pins.submit(PINS["text"]))
    assert unchecked.to_dict()["ca_source"] is None


# --------------------------------------------------------------------------- the CLI
def test_cli_card_face_verified(cli: Cli, pins: PinLedger) -> None:
    """Old code: no command read the 券面AP at all."""
    prof = load_json("mynumber-01")
    res = cli.run("card-face", "--emulated", "--pin-stdin", "--json", *TEST_KEYS,
                  stdin=pins.submit(_value(prof, "visual", "0012")) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["trust_level"] == "verified-to-jlis-ca" and data["ca_source"] == "caller"
    assert data["ca_kind"] == "test" and data["ca_key_id"] == TEST_ROOT.chr.hex().upper()
    assert data["signed_records"] == ["0002"] and "expiry" in data["unsigned_items"]
    assert data["card_source"]["kind"] == "emulated" and data["name_png"]


def test_cli_card_face_production_policy_refuses_the_test_card(cli: Cli,
                                                               pins: PinLedger) -> None:
    prof = load_json("mynumber-01")
    res = cli.run("card-face", "--emulated", "--pin-stdin", "--json",
                  stdin=_value(prof, "visual", "0012") + "\n")
    assert res.rc == 5
    err = res.json()["error"]
    assert err["type"] == "UntrustedIssuerError" and "birth" not in res.out


def test_cli_card_face_unchecked_and_own_key(cli: Cli, pins: PinLedger) -> None:
    prof = load_json("mynumber-01")
    for check, level in (("none", "not-checked"), ("own-key", "self-consistent-only")):
        res = cli.run("card-face", "--emulated", "--pin-stdin", "--check", check,
                      stdin=pins.submit(_value(prof, "visual", "0012")) + "\n")
        assert res.rc == 0, res.err
        assert "birth:" in res.out
        assert ("not checked" if check == "none" else "own CV certificate") in res.err
        res = cli.run("card-face", "--emulated", "--pin-stdin", "--json", "--check", check,
                      stdin=pins.submit(_value(prof, "visual", "0012")) + "\n")
        assert res.json()["trust_level"] == level
    res = cli.run("card-face", "--emulated", "--pin-stdin", "--check", "none",
                  "--allow-test-keys", stdin="")
    assert res.rc == 2  # trust options need --check ca; nothing asked


def test_cli_card_face_tampered(cli: Cli, pins: PinLedger) -> None:
    prof = _tampered_entries()
    cli.use(data=prof)
    res = cli.run("card-face", "--emulated", "--pin-stdin", "--json", *TEST_KEYS,
                  stdin=pins.submit(_value(prof, "visual", "0012")) + "\n")
    assert res.rc == 5 and res.json()["error"]["type"] == "DataIntegrityError"
    assert "name_png" not in res.out


def test_extra_key_with_a_bundled_id_and_fields_but_another_modulus_is_refused() -> None:
    """A caller key claiming ``source="bundled"`` with a bundled key's id, production flag
    and application but ANOTHER public key: refused as the caller's.  Fails on the old check
    (``k not in bundled_keys()`` compared the fields only: the key is ``compare=False``);
    left by the verification review as a one-line hardening."""
    real = cvca.key_for(b"5000033" + bytes.fromhex("080530303100000000"))
    assert real is not None
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    impostor = CvCaKey(real.key_id, other, real.production, application=real.application,
                       source="bundled", provenance=real.provenance)
    assert impostor == real  # the dataclass equality ignores the key: why the check compares it
    with pytest.raises(UsageError, match="caller"):
        cvca.policy(allow_test_keys=True, extra=(impostor,))
    cvca.policy(allow_test_keys=True, extra=(real,))  # the bundled key itself is fine
