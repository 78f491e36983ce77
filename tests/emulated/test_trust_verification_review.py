"""Verification round of issue 11's review (data authenticity labels, card-face, card
authenticate, the trust options): the gaps found, each test saying what the old code did.

In-process, against the emulated card."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from emulated_support import Emulated, MakeCard, PinLedger, find_file
from emulated_support import profile_json as load_json
from test_cli_card import Cli
from test_data_authenticity import _recertified

from jukicard.card import cvca
from jukicard.card.cvc import CvCertificate
from jukicard.errors import UntrustedIssuerError
from jukicard.services.cardface import read_card_face
from jukicard.services.genuineness import authenticate_card, load_cv_ca_key
from jukicard.services.interaction import PinRequest

ROOT = Path(__file__).resolve().parents[2]
CA_FILE = str(ROOT / "vectors/pki/cv/jlis-root.cvc")
#: A CV CA id that starts with "5" (the production prefix) but is no bundled J-LIS key.
FAKE_PRODUCTION_ID = b"5999999" + bytes.fromhex("080530303100000000")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, make_card: MakeCard,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, make_card, capsys)


class _NeverAsk:
    """An interaction that fails the test if anyone asks it for a credential."""

    def request_pin(self, request: PinRequest) -> str:
        raise AssertionError(f"asked for {request.spec.id} although the card is refused")

    def info(self, message: str) -> None:  # pragma: no cover - not reached
        pass


# ------------------------------------------------------- a credential asked for nothing
def test_card_face_untrusted_ca_asks_for_no_credential(mynumber: Emulated) -> None:
    """Old code: ``read_card_face`` (the default ``check="ca"``, production policy) asked
    for 照合番号B and VERIFYed it on a card the policy refuses, then failed: a try spent
    (a wrong credential) for a refusal decided by public data.  Now the CV certificate
    (EF 0004, readable with nothing presented) is checked first."""
    with pytest.raises(UntrustedIssuerError):
        read_card_face(mynumber.transport, _NeverAsk())  # type: ignore[arg-type]
    assert mynumber.card.stats.verify_with_data == 0


@pytest.mark.parametrize("application", ["visual", "text"])
def test_card_authenticate_untrusted_ca_asks_for_no_credential(mynumber: Emulated,
                                                              application: str) -> None:
    """Old code: ``authenticate_card`` asked for the credential and VERIFYed it before it
    found that the production policy does not trust the card's CV CA."""
    with pytest.raises(UntrustedIssuerError):
        authenticate_card(mynumber.transport, _NeverAsk(),  # type: ignore[arg-type]
                          application=application,  # type: ignore[arg-type]
                          credential="match-b" if application == "visual" else "pin")
    assert mynumber.card.stats.verify_with_data == 0


@pytest.mark.parametrize("argv", [("card-face",), ("card", "authenticate"),
                                  ("card", "authenticate", "--ap", "text")])
def test_cli_untrusted_ca_reads_no_credential(cli: Cli, argv: tuple[str, ...]) -> None:
    """Old code: exit 5 only after the credential was read and sent to the card (the
    README promised "before the PIN is asked" for mynumber only)."""
    card = cli.use()
    res = cli.run(*argv, "--emulated", "--pin-stdin", "--json", stdin="")
    assert res.rc == 5, res.out
    assert res.json()["error"]["type"] == "UntrustedIssuerError"
    assert card.stats.verify_with_data == 0


def test_card_face_with_trusted_test_ca_still_reads(cli: Cli, pins: PinLedger) -> None:
    """The pre-check does not stop a card the policy trusts (one VERIFY, as before)."""
    prof = load_json("mynumber-01")
    res = cli.run("card-face", "--emulated", "--pin-stdin", "--json", "--allow-test-keys",
                  "--ca-key", CA_FILE,
                  stdin=pins.submit(str(find_file(prof, "visual", "0012")["value"])) + "\n")
    assert res.rc == 0, res.err
    assert res.json()["trust_level"] == "verified-to-jlis-ca"


# ------------------------------------------------------- a caller's key called production
def _fake_production_card(tmp_path: Path) -> tuple[dict[str, object], str]:
    """The genuine card re-certified (visual AP) by a fresh CA whose id starts with "5";
    that CA's self-issued certificate written to a file, as an attacker would hand it."""
    prof, ca = _recertified("visual", FAKE_PRODUCTION_ID)
    path = tmp_path / "fake-5.cvc"
    path.write_bytes(bytes(CvCertificate.create(FAKE_PRODUCTION_ID, FAKE_PRODUCTION_ID,
                                                ca.public_key(), ca)))
    return prof, str(path)


def test_ca_key_file_with_a_production_id_is_no_production_key(cli: Cli,
                                                                tmp_path: Path) -> None:
    """Old code: ``--ca-key FILE`` whose id starts with "5" was taken as a production key
    from the file's word alone: under the production policy (no --allow-test-keys) a card
    of any CA printed "genuine", ``ca_kind: "production"``, and the text output did not
    say the key was the caller's.  Now a caller's file is a test key unless it is a
    bundled J-LIS key: a usage error under the production policy, before anything is
    asked."""
    prof, path = _fake_production_card(tmp_path)
    card = cli.use(data=prof)
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--json",
                  "--ca-key", path, stdin="")
    assert res.rc == 2, res.out
    assert "genuine" not in res.out and "5999999" in res.json()["error"]["message"]
    assert card.stats.verify_with_data == 0


def test_ca_key_file_with_a_production_id_is_a_test_key(cli: Cli, pins: PinLedger,
                                                        tmp_path: Path) -> None:
    """With --allow-test-keys the caller's key is trusted, and said to be a test key from
    --ca-key (old code: ``ca_kind: "production"`` and "(production)" in the text)."""
    prof, path = _fake_production_card(tmp_path)
    cli.use(data=prof)
    mb = str(find_file(prof, "visual", "0012")["value"])  # type: ignore[arg-type]
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--json",
                  "--allow-test-keys", "--ca-key", path, stdin=pins.submit(mb) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["ca_kind"] == "test" and data["ca_production"] is False
    assert data["ca_source"] == "caller" and data["policy"] == "test-keys-allowed"
    res = cli.run("card", "authenticate", "--emulated", "--pin-stdin", "--allow-test-keys",
                  "--ca-key", path, stdin=pins.submit(mb) + "\n")
    assert res.rc == 0, res.err
    assert "CV CA key: 5999999 (test, from --ca-key)" in res.out
    assert "TEST card" in res.out


def test_ca_key_file_of_a_bundled_key_is_the_bundled_key(tmp_path: Path) -> None:
    """A file holding a bundled J-LIS key (same id, same numbers) is that key: production
    and ``bundled`` (the key is J-LIS's, not the file's word), so it needs no
    --allow-test-keys.  A file with another key under a bundled id stays a caller's test
    key (and CARDAUTH-5 refuses the clash)."""
    bundled = cvca.bundled_keys()[0]
    assert bundled.production
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    same = tmp_path / "same.cvc"  # the file's own signature is not what makes it trusted
    same.write_bytes(bytes(CvCertificate.create(bundled.key_id, bundled.key_id,
                                                bundled.public_key, other)))
    key = load_cv_ca_key(str(same))
    assert key is bundled and key.source == "bundled" and key.production
    assert cvca.policy(extra=(key,)).anchor_for(bundled.key_id) is bundled
    clash = tmp_path / "clash.cvc"
    clash.write_bytes(bytes(CvCertificate.create(bundled.key_id, bundled.key_id,
                                                 other.public_key(), other)))
    key = load_cv_ca_key(str(clash))
    assert key.production is False and key.source == "caller"


@pytest.mark.parametrize(("argv", "named"), [
    (("--check", "ca"), "--check ca"), (("--check", "own-key"), "--check own-key"),
    (("--check-signature",), "--check-signature")])
def test_basic_info_match_b_names_the_option_given(cli: Cli, argv: tuple[str, ...],
                                                   named: str) -> None:
    """Old code: ``basic-info --match-b --check ca`` said "--check-signature needs the
    4-digit PIN", an option the user had not given.  Usage error, nothing asked."""
    res = cli.run("basic-info", "--emulated", "--pin-stdin", "--match-b", *argv, stdin="")
    assert res.rc == 2
    assert f"{named} needs the 4-digit PIN" in res.err
