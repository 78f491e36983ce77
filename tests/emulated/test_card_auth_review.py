"""Review of issue 11 ("the card proves itself", card identity): the attacks that got
through, the CLI's ``card authenticate`` in-process (good run, test CV CA refused, cloned
card, forged CV certificate, ``--json`` shape) and the card identity in ``card info``.

Each test that fixes a defect says what the old code did."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from emulated_support import Emulated, ForeignTransport, MakeCard, PinLedger, find_file
from emulated_support import profile_json as load_json
from test_cli_card import Cli

from jukicard.card.cardauth import CardAuthPolicy, CvCaKey
from jukicard.card.codec import first_tlv, rsa_key_tlvs, tlv
from jukicard.card.cvc import CvCertificate
from jukicard.card.visual import VisualSession
from jukicard.card.visualauth import VisualRecord
from jukicard.errors import (
    BadResponse,
    CvCaSignatureError,
    DataIntegrityError,
    IssuerKeyMismatchError,
    UsageError,
)
from jukicard.services.info import card_info

ROOT = Path(__file__).resolve().parents[2]
CA_FILE = str(ROOT / "vectors/pki/cv/jlis-root.cvc")
TEST_ROOT = CvCertificate.parse(Path(CA_FILE).read_bytes())
TEST_POLICY = CardAuthPolicy((CvCaKey.from_cv_certificate(TEST_ROOT, production=False),),
                             production=False)
#: The bundled production CV CA key id of the 券面事項確認AP (5000023).
VISUAL_PRODUCTION_ID = bytes.fromhex("35303030303233080530303100000000")
TEST_KEYS = ("--allow-test-keys", "--ca-key", CA_FILE)
REPORT_KEYS = {"genuine", "application", "result", "ca_key_id", "ca_production",
               "issuer_key_id", "ca_key_name", "ca_kind", "policy", "identity", "card_source",
               "ca_source"}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, make_card: MakeCard,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, make_card, capsys)


def _value(prof: dict[str, Any], app: str, fid: str) -> str:
    return str(find_file(prof, app, fid)["value"])


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _unsigned_key_clone() -> dict[str, Any]:
    """A clone: the genuine card's visual records, its own card key 001A, and a second
    ``DF 12`` carrying that key appended after the signature of EF 0001 (outside the
    signed bytes)."""
    prof = load_json("mynumber-01")
    entry = find_file(prof, "visual", "0001")
    raw = bytes.fromhex(entry["data"])
    record, _rest = first_tlv(raw, "EF 0001")
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    nums = own.public_key().public_numbers()
    value = record.value + tlv(0xDF12, rsa_key_tlvs(nums.e, nums.n), long_form=True)
    entry["data"] = tlv(0xFF10, value, long_form=True).hex().upper()
    find_file(prof, "visual", "001A")["private_key_pem"] = _pem(own)
    return prof


def _forged_cv_profile() -> dict[str, Any]:
    """A forged card: its visual CV certificate names the production CV CA 5000023 but is
    signed by a key of the forger's."""
    prof = load_json("mynumber-01")
    entry = find_file(prof, "visual", "0004")
    cv = CvCertificate.parse(bytes.fromhex(entry["data"]))
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = CvCertificate.create(VISUAL_PRODUCTION_ID, cv.chr, cv.public_key(), forger)
    entry["data"] = bytes(forged).hex().upper()
    return prof


# --------------------------------------------------------------------------- the library
def test_clone_with_an_unsigned_card_key_is_refused(make_card: MakeCard,
                                                    pins: PinLedger) -> None:
    """Old code: ``verified-to-jlis-ca`` — the record parser took the LAST ``DF 12``, which
    followed ``DF 13`` and so was not covered by the issuer's signature: a clone with a
    genuine card's birth record and its own key passed card authentication (VIS-4)."""
    prof = _unsigned_key_clone()
    card = make_card(data=prof)
    with pytest.raises(DataIntegrityError, match="appears twice"):
        VisualSession(card.transport).authenticate_card(
            birth_pin=pins.submit(_value(prof, "visual", "0011")), policy=TEST_POLICY)


def test_record_key_after_signature_is_refused() -> None:
    """Old code: parsed — a record whose only card key follows its signature carries a key
    the signature does not cover."""
    raw = bytes.fromhex(find_file(load_json("mynumber-01"), "visual", "0001")["data"])
    record, _rest = first_tlv(raw, "EF 0001")
    from jukicard.apdu.tlv import Tlv
    kids = {k.tag: bytes(k) for k in Tlv.parse_all(record.value)}
    reordered = tlv(0xFF10, kids[0xDF11] + kids[0xDF13] + kids[0xDF12], long_form=True)
    with pytest.raises(BadResponse, match="follows the signature"):
        VisualRecord.parse(0x0001, reordered)
    assert VisualRecord.parse(0x0001, raw).fid == 0x0001  # the genuine record still parses


def test_forged_cv_certificate_is_its_own_error(make_card: MakeCard, pins: PinLedger) -> None:
    """A CV certificate that names a trusted CV CA but is not signed by it is a
    :class:`CvCaSignatureError` (still an :class:`IssuerKeyMismatchError` for callers)."""
    from jukicard.card import cvca
    prof = _forged_cv_profile()
    card = make_card(data=prof)
    with pytest.raises(CvCaSignatureError, match="names CV CA 5000023") as info:
        VisualSession(card.transport).authenticate_card(
            match_b=pins.submit(_value(prof, "visual", "0012")), policy=cvca.policy())
    assert isinstance(info.value, IssuerKeyMismatchError)


# --------------------------------------------------------------------------- the CLI
def test_cli_authenticate_good_run_text(cli: Cli, pins: PinLedger) -> None:
    """Old code: the verdict said plain "genuine" for the synthetic TEST card under a test
    CV CA, and the text output did not name the card (the emulated card unmarked)."""
    prof = load_json("mynumber-01")
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", *TEST_KEYS,
                  stdin=pins.submit(_value(prof, "visual", "0012")) + "\n")
    assert res.rc == 0, res.err
    assert "card authentication: verified-to-jlis-ca (genuine TEST card" in res.out
    assert "CV CA key: 9990000 (test, from --ca-key)" in res.out
    assert "TEST card: synthetic data" in res.out  # the emulated card says what it is
    assert "card identification number: 991133906903400" in res.out
    assert cli.card is not None and cli.card.stats.verify_with_data == 1


def test_cli_authenticate_json_shape(cli: Cli, pins: PinLedger) -> None:
    prof = load_json("mynumber-01")
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--json", *TEST_KEYS,
                  stdin=pins.submit(_value(prof, "visual", "0012")) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert set(data) == REPORT_KEYS
    assert data["genuine"] is True and data["result"] == "verified-to-jlis-ca"
    assert data["application"] == "visual" and data["ca_kind"] == "test"
    assert data["ca_key_id"] == TEST_ROOT.chr.hex().upper() and data["ca_production"] is False
    assert data["policy"] == "test-keys-allowed"
    assert data["ca_source"] == "caller"  # the test CA came from --ca-key (CARDAUTH-6)
    assert data["identity"]["card_id"] == "991133906903400"
    assert data["card_source"]["kind"] == "emulated"


def test_cli_authenticate_text_ap(cli: Cli, pins: PinLedger) -> None:
    prof = load_json("mynumber-01")
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--json", "--ap",
                  "text", *TEST_KEYS, stdin=pins.submit(_value(prof, "text", "0011")) + "\n")
    assert res.rc == 0, res.err
    assert res.json()["application"] == "text" and res.json()["genuine"] is True


def test_cli_test_ca_refused_under_the_production_policy(cli: Cli, pins: PinLedger) -> None:
    """Exit 5, typed; old code's hint did not say the emulated card needs --ca-key."""
    prof = load_json("mynumber-01")
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--json",
                  stdin=_value(prof, "visual", "0012") + "\n")
    assert res.rc == 5
    err = res.json()["error"]
    assert err["type"] == "UntrustedIssuerError" and "9990000" in err["message"]
    assert "--ca-key" in err["hint"]


def test_cli_test_ca_hint_names_the_missing_option(cli: Cli, pins: PinLedger) -> None:
    """Old code: with --allow-test-keys already given, the hint still said the card
    "needs --allow-test-keys" (and never named --ca-key, which the emulated card needs)."""
    prof = load_json("mynumber-01")
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--allow-test-keys",
                  stdin=_value(prof, "visual", "0012") + "\n")
    assert res.rc == 5
    assert "--ca-key" in res.err and "((" not in res.err.replace(" (", "(")


def test_cli_cloned_card(cli: Cli, pins: PinLedger) -> None:
    """Right data, another key: exit 5, CardAuthenticationError, nothing "genuine"."""
    prof = load_json("mynumber-01")
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    find_file(prof, "visual", "001A")["private_key_pem"] = _pem(own)
    cli.use(data=prof)
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--json", *TEST_KEYS,
                  stdin=pins.submit(_value(prof, "visual", "0012")) + "\n")
    assert res.rc == 5
    assert res.json()["error"]["type"] == "CardAuthenticationError"
    assert "genuine" not in res.out


def test_cli_clone_with_an_unsigned_card_key(cli: Cli, pins: PinLedger) -> None:
    """Old code: exit 0, ``"genuine": true`` for a clone using the birth-date PIN."""
    prof = _unsigned_key_clone()
    cli.use(data=prof)
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--json",
                  "--credential", "birth", *TEST_KEYS,
                  stdin=pins.submit(_value(prof, "visual", "0011")) + "\n")
    assert res.rc == 5, res.out
    assert res.json()["error"]["type"] == "DataIntegrityError"


def test_cli_forged_cv_certificate_is_not_blamed_on_a_key_file(cli: Cli,
                                                               pins: PinLedger) -> None:
    """Old code: a forged CV certificate naming the production CA 5000023 was reported as
    ``"option": "--issuer-key"`` ("the key given with --issuer-key did not certify…"), an
    option ``card authenticate`` does not have: staff were sent to check a key file."""
    prof = _forged_cv_profile()
    cli.use(data=prof)
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--json",
                  stdin=_value(prof, "visual", "0012") + "\n")
    assert res.rc == 5
    err = res.json()["error"]
    assert "option" not in err and "--issuer-key" not in res.out
    assert err["type"] == "CvCaSignatureError" and "5000023" in err["message"]
    assert "forged" in err["hint"]


def test_cli_wrong_credential_reaches_the_card_once(cli: Cli, pins: PinLedger) -> None:
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", *TEST_KEYS,
                  stdin=pins.submit("00000000000000") + "\n")
    assert res.rc == 3


# --------------------------------------------------------------------------- card info
def test_card_info_shows_the_card_identity(cli: Cli) -> None:
    """Old code: ``card info`` showed no card identification number, municipality code or
    expiry, and its JSON had no ``identity``."""
    text = cli.run("card", "info", "--emulated")
    assert text.rc == 0, text.err
    assert "card ID:      991133906903400" in text.out
    assert "municipality: 13101" in text.out and "expiry:       20350302" in text.out
    data = cli.run("card", "info", "--emulated", "--json").json()
    assert data["identity"] == {"card_id": "991133906903400", "municipality": "13101",
                                "expiry": "20350302", "objects": ["0045", "00F0", "00F2"]}


def test_card_info_identity_null_on_a_juki_card(cli: Cli) -> None:
    res = cli.run("card", "info", "--profile", "juki-01", "--json")
    assert res.rc == 0 and res.json()["identity"] is None
    assert "card ID:" not in cli.run("card", "info", "--profile", "juki-01").out


class _NoGetData(ForeignTransport):
    """A card that does not know GET DATA (``6D00``)."""

    __slots__ = ()

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if len(apdu) > 1 and apdu[1] == 0xCA:
            return b"", 0x6D00
        return self.inner.transmit(apdu)


def test_card_info_without_get_data(mynumber: Emulated) -> None:
    """A card refusing GET DATA still gets its ``card info``; the identity is just absent."""
    info = card_info(_NoGetData(mynumber.transport))  # type: ignore[arg-type]
    assert info.identity is None and info.to_json()["identity"] is None
    assert info.token == "JPKIAPICCTOKEN2"


def test_card_info_identity_not_logged(cli: Cli, caplog: pytest.LogCaptureFixture) -> None:
    import logging
    caplog.set_level(logging.DEBUG)
    assert cli.run("card", "info", "--emulated").rc == 0
    assert "991133906903400" not in caplog.text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))


# --------------------------------------------------------------------------- trust set
def test_extra_key_with_a_bundled_id_is_refused(cli: Cli, tmp_path: Path) -> None:
    """Old code: a --ca-key whose id is a bundled key's (here test 6000023) but whose key
    differs was silently ignored (the bundled key matched first).  Now a usage error, before
    any PIN is asked."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = b"6000023" + VISUAL_PRODUCTION_ID[7:]
    path = tmp_path / "clash.cvc"
    path.write_bytes(bytes(CvCertificate.create(key_id, key_id, other.public_key(), other)))
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--json",
                  "--allow-test-keys", "--ca-key", str(path), stdin="")
    assert res.rc == 2, res.out
    assert "6000023" in res.json()["error"]["message"]
    from jukicard.card import cvca
    same = cvca.key_for(key_id)
    assert same is not None
    assert cvca.policy(allow_test_keys=True, extra=(same,)).anchor_for(key_id) is not None


# --------------------------------------------------------------------------- wrong callers
def test_wrong_policy_argument_costs_no_verify(mynumber: Emulated) -> None:
    """Old code: ``policy="…"`` (or any non-policy) raised AttributeError — after the
    session had already VERIFYed the PIN and read the EFs.  Now a UsageError, nothing sent."""
    from jukicard.card.text import TextSession
    text = TextSession(mynumber.transport)
    visual = VisualSession(mynumber.transport)
    before = mynumber.card.stats.apdus
    for call in (lambda: text.authenticate_card(pin="1234", policy="production"),
                 lambda: text.read_verified("1234", policy=object()),
                 lambda: visual.authenticate_card(match_b="07030220358304", policy=[]),
                 lambda: visual.authenticate_card(match_b="07030220358304", rng=None)):
        with pytest.raises(UsageError):
            call()
    assert mynumber.card.stats.apdus == before and mynumber.card.stats.verify_with_data == 0


def test_wrong_arguments_are_usage_errors(mynumber: Emulated) -> None:
    """Old code: TypeError (a str challenge, an rng giving None, tags=5, CardAuthPolicy(None),
    str GET DATA values), KeyError (VisualRecord of another EF), AttributeError (a str policy
    to the offline checks) — and ``internal_authenticate(123)`` sent 123 zero bytes."""
    from jukicard.card.identity import CommonSession, read_card_identity
    from jukicard.card.identity_data import CardIdentity
    from jukicard.card.visualauth import verify_visual_records
    common = CommonSession(mynumber.transport)
    before = mynumber.card.stats.apdus
    calls = [lambda: common.internal_authenticate("abc"),  # type: ignore[arg-type]
             lambda: common.internal_authenticate(123),  # type: ignore[arg-type]
             lambda: common.internal_authenticate(rng=lambda n: None),  # type: ignore
             lambda: read_card_identity(mynumber.transport, 5),  # type: ignore[arg-type]
             lambda: CardAuthPolicy(None),  # type: ignore[arg-type]
             lambda: CardIdentity.from_objects({0x0045: "x"}),  # type: ignore[dict-item]
             lambda: VisualRecord.parse(7, b""),
             lambda: verify_visual_records(b"", {2: b""}, "production")]  # type: ignore
    for call in calls:
        with pytest.raises(UsageError):
            call()
    assert mynumber.card.stats.apdus == before
