"""The ``jukicard`` command line through the real stack: a ``python -m jukicard`` process on
the virtual reader (pyscard → pcscd → vpcd → emulator bridge), at ``--log-level TRAFFIC``.

Checked: exit codes, JSON output, signatures against the card's certificates, PIN counters
from the emulator's own stats, and that neither PINs nor personal data reach the TRAFFIC log
(stderr).  Every PIN fed on stdin goes through the PIN ledger (``pins``): it must reach the
card exactly once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

pytestmark = pytest.mark.integration

stack = sys.modules["jukicard_it_stack"]  # loaded by conftest.py
PinLedger = Any  # conftest.PinLedger (the ``pins`` fixture)

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "mynumber-01"
#: Synthetic test values of mynumber-01 (vectors/cards/README.md).  Test data only.
AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123"
TEXT_PIN = "1234"
MY_NUMBER = "201867807611"
NAME = "模擬　花子"
#: hang guard for one CLI process (not a timed assertion)
CLI_TIMEOUT = 120


# --------------------------------------------------------------------------- helpers
@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def jukicard(*argv: str, stdin: str = "") -> Result:
    """Run ``python -m jukicard --log-level TRAFFIC ARGV...`` in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-m", "jukicard", "--log-level", "TRAFFIC", *argv],
        input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=CLI_TIMEOUT,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def profile_entry(app: str, fid: str, profile: str = PROFILE) -> dict[str, Any]:
    data = json.loads((stack.PROFILE_DIR / f"{profile}.json").read_text(encoding="utf-8"))
    for application in data["applications"]:
        if application["name"] == app:
            for f in application["files"]:
                if f["fid"].upper() == fid.upper():
                    return dict(f)
    raise KeyError((profile, app, fid))


def cert_of(fid: str) -> x509.Certificate:
    ef = bytes.fromhex(profile_entry("jpki", fid)["data"])
    return x509.load_der_x509_certificate(ef[: 4 + int.from_bytes(ef[2:4], "big")])


def rsa_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def hex_forms(secret: bytes) -> list[str]:
    """The ways ``secret`` could show up in a hex trace (``31 32 33 34``, ``31323334``)."""
    return [secret.hex(" ").upper(), secret.hex(" "), secret.hex().upper(), secret.hex()]


def assert_not_logged(log: str, *secrets: str) -> None:
    """None of ``secrets`` appears in ``log``, neither as text nor as hex of its ASCII."""
    for secret in secrets:
        assert secret not in log, "a secret appears in the log as text"
        for form in hex_forms(secret.encode("utf-8")):
            assert form not in log, "a secret appears in the log as hex"


def reader_source(reader: str) -> dict[str, Any]:
    """The ``card_source`` of a card in ``reader`` (issue 8: every JSON output says it)."""
    return {"kind": "reader", "name": reader, "fallback": False}


def traffic(err: str) -> list[str]:
    return [line for line in err.splitlines() if " TRAFFIC " in line]


def assert_traffic_logged(err: str) -> None:
    lines = traffic(err)
    assert any("SEND 00 A4 04" in line for line in lines), "no SELECT in the TRAFFIC log"
    assert any("RECV" in line for line in lines)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def mn(card: Any, pins: PinLedger) -> Any:
    """The session card (mynumber-01), watched by the PIN ledger."""
    pins.watch(card)
    return card


# --------------------------------------------------------------------------- card info
def test_card_info_json(mn: Any) -> None:
    before = mn.stats()
    res = jukicard("card", "info", "--reader", mn.reader, "--json")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["card_type"] == "mynumber"
    assert data["token"] == "JPKIAPICCTOKEN2"
    assert data["atr"] == profile_atr()
    assert mn.reader in data["source"]
    assert [a["name"] for a in data["applications"]] == ["jpki", "text", "visual"]
    certs = {c["id"]: c for c in data["certificates"]}
    assert set(certs) == {"auth", "auth-ca", "sign", "sign-ca"}
    assert certs["auth"]["subject"] == cert_of("000A").subject.rfc4514_string()
    assert certs["sign"]["read"] is False  # needs the password: not read, not asked
    assert_traffic_logged(res.err)
    assert_not_logged(res.out + res.err, MY_NUMBER, NAME)
    after = mn.stats()
    assert after["verify_with_data"] == before["verify_with_data"]
    assert after["apdus"] > before["apdus"]


def profile_atr() -> str:
    data = json.loads((stack.PROFILE_DIR / f"{PROFILE}.json").read_text(encoding="utf-8"))
    return str(data["atr"]).upper()


# --------------------------------------------------------------------------- pin status
def test_pin_status_json_touches_no_counter(mn: Any) -> None:
    expected = {
        "auth": profile_entry("jpki", "0018")["tries_left"],
        "sign": profile_entry("jpki", "001B")["tries_left"],
        "text": profile_entry("text", "0011")["tries_left"],
        "text-match-a": profile_entry("text", "0014")["tries_left"],
        "text-match-b": profile_entry("text", "0015")["tries_left"],
        "visual-match-a": profile_entry("visual", "0013")["tries_left"],
        "visual-match-b": profile_entry("visual", "0012")["tries_left"],
        "visual-birth": profile_entry("visual", "0011")["tries_left"],
    }
    before = mn.stats()
    outputs = []
    for _round in range(2):
        res = jukicard("pin", "status", "--reader", mn.reader, "--json")
        assert res.rc == 0, res.err
        pins = {p["id"]: p for p in res.json()["pins"]}
        assert {k: p["retries_left"] for k, p in pins.items()} == expected
        assert not any(p["blocked"] for p in pins.values())
        outputs.append(res.out)
    assert outputs[0] == outputs[1]
    after = mn.stats()
    assert after["verify_with_data"] == before["verify_with_data"]
    assert after["verify_status_queries"] == before["verify_status_queries"] + 2 * len(expected)


# --------------------------------------------------------------------------- sign
def test_sign_digest_with_auth_key(mn: Any, pins: PinLedger) -> None:
    digest = hashlib.sha256(b"integration cli").digest()
    res = jukicard("sign", "--reader", mn.reader, "--pin-stdin", "--key", "auth",
                   "--digest", digest.hex(), "--json", stdin=pins.submit(AUTH_PIN) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["key"] == "auth" and data["hash"] == "sha256"
    assert data["digest"] == digest.hex() and data["signature_bytes"] == 256
    signature = base64.b64decode(data["signature"])
    rsa_key(cert_of("000A")).verify(signature, digest, padding.PKCS1v15(),
                                    Prehashed(hashes.SHA256()))
    assert_traffic_logged(res.err)
    # the VERIFY is in the log, its data is not
    # (neither the PIN nor its length: review of issue 8)
    verify = [ln for ln in traffic(res.err) if "SEND 00 20 00 80 <redacted PIN data>" in ln]
    assert len(verify) == 1 and "Lc=" not in verify[0]
    assert_not_logged(res.err, AUTH_PIN)


def test_sign_file_with_sign_key(mn: Any, pins: PinLedger, tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"integration document\n" * 100)
    sig_path, cert_path = tmp_path / "doc.sig", tmp_path / "sign.pem"
    res = jukicard("sign", str(doc), "--reader", mn.reader, "--pin-stdin", "-o", str(sig_path),
                   "--cert-out", str(cert_path), stdin=pins.submit(SIGN_PASSWORD) + "\n")
    assert res.rc == 0, res.err
    assert res.out == ""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert == cert_of("0001")
    rsa_key(cert).verify(sig_path.read_bytes(), doc.read_bytes(), padding.PKCS1v15(),
                         hashes.SHA256())
    assert_traffic_logged(res.err)
    assert_not_logged(res.err, SIGN_PASSWORD)
    # the sign certificate (name, address) was read but its bytes are not in the log
    body = cert.tbs_certificate_bytes
    assert body[40:72].hex(" ").upper() not in res.err
    assert any("RECV <redacted" in ln for ln in traffic(res.err))


# --------------------------------------------------------------------------- personal data
def test_mynumber(mn: Any, pins: PinLedger) -> None:
    res = jukicard("mynumber", "--reader", mn.reader, "--pin-stdin",
                   stdin=pins.submit(TEXT_PIN) + "\n")
    assert res.rc == 0, res.err
    assert res.out == MY_NUMBER + "\n"
    assert_traffic_logged(res.err)
    assert_not_logged(res.err, TEXT_PIN, MY_NUMBER)
    res = jukicard("mynumber", "--reader", mn.reader, "--pin-stdin", "--json",
                   "--check-signature", stdin=pins.submit(TEXT_PIN) + "\n")
    assert res.rc == 0, res.err
    assert res.json() == {"my_number": MY_NUMBER, "signature_checked": True,
                          "signature_check": "card-key-only",
                          "trust_level": "self-consistent-only",  # issue 11: said
                          "ca_key_id": "39393930303030080530303000000000", "ca_kind": None,
                          "ca_source": None, "card_source": reader_source(mn.reader)}
    assert_not_logged(res.err, TEXT_PIN, MY_NUMBER, NAME)


def test_basic_info_with_signature_check(mn: Any, pins: PinLedger) -> None:
    res = jukicard("basic-info", "--reader", mn.reader, "--pin-stdin", "--check-signature",
                   "--json", stdin=pins.submit(TEXT_PIN) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["name"] == NAME and data["signature_checked"] is True
    assert data["birth"] == "1995-03-02" and data["sex"] == "female"
    assert_not_logged(res.err, TEXT_PIN, NAME, MY_NUMBER)


# --------------------------------------------------------------------------- PIN errors
def test_wrong_pin_exit_3_then_right_pin_resets(
    fresh_card: Callable[..., Any], pins: PinLedger
) -> None:
    card = fresh_card(PROFILE)
    res = jukicard("mynumber", "--reader", card.reader, "--pin-stdin",
                   stdin=pins.submit("0000") + "\n")
    assert res.rc == 3
    assert "2 tries left" in res.err
    assert res.out == ""
    assert_not_logged(res.err, "0000")
    status = jukicard("pin", "status", "--reader", card.reader, "--json")
    tries = {p["id"]: p["retries_left"] for p in status.json()["pins"]}
    assert tries["text"] == 2 and tries["auth"] == 3
    res = jukicard("mynumber", "--reader", card.reader, "--pin-stdin",
                   stdin=pins.submit(TEXT_PIN) + "\n")
    assert res.rc == 0 and res.out.strip() == MY_NUMBER
    status = jukicard("pin", "status", "--reader", card.reader, "--json")
    assert {p["id"]: p["retries_left"] for p in status.json()["pins"]}["text"] == 3


def test_pin_of_wrong_length_exit_2_and_not_sent(mn: Any) -> None:
    before = mn.stats()
    res = jukicard("mynumber", "--reader", mn.reader, "--pin-stdin", stdin="12345\n")
    assert res.rc == 2
    assert "12345" not in res.err
    after = mn.stats()
    assert after["verify_with_data"] == before["verify_with_data"]


def test_unknown_reader_exit_6(vpcd_stack: tuple[str, ...]) -> None:
    res = jukicard("card", "info", "--reader", "No Such Reader 99", "--json")
    assert res.rc == 6
    assert "No Such Reader 99" in res.err
    assert "emulated" not in res.err  # a named reader never falls back


# --------------------------------------------------------------------------- readers, watch
def test_readers_json_shows_the_card(mn: Any) -> None:
    res = jukicard("readers", "--json")
    assert res.rc == 0, res.err
    readers = {r["name"]: r for r in res.json()["readers"]}
    assert readers[mn.reader]["card_present"] is True
    assert readers[mn.reader]["atr"] == "3BE000FF8131FE4514"
    index = readers[mn.reader]["index"]
    # the index works with --reader
    res = jukicard("card", "info", "--reader", str(index), "--json")
    assert res.rc == 0, res.err
    assert res.json()["source"] == f"reader {mn.reader!r}"


def test_watch_identifies_the_card_present(mn: Any) -> None:
    """``watch`` reports what is already there first; ``--timeout 0`` stops right after."""
    before = mn.stats()
    res = jukicard("watch", "--json", "--timeout", "0")
    assert res.rc == 0, res.err
    events = [json.loads(line) for line in res.out.splitlines()]
    inserted = [e for e in events if e["event"] == "card-inserted" and e["reader"] == mn.reader]
    assert len(inserted) == 1
    assert inserted[0]["card_type"] == "mynumber"
    assert inserted[0]["token"] == "JPKIAPICCTOKEN2"
    assert inserted[0]["applications"] == ["jpki", "text", "visual"]
    assert mn.stats()["verify_with_data"] == before["verify_with_data"]


# ----------------------------------------------------------------- cert export, pin change
def test_cert_export_sign_with_password(mn: Any, pins: PinLedger, tmp_path: Path) -> None:
    out = tmp_path / "sign.der"
    res = jukicard("cert", "export", "sign", "--reader", mn.reader, "--pin-stdin",
                   "--format", "der", "-o", str(out), stdin=pins.submit(SIGN_PASSWORD) + "\n")
    assert res.rc == 0, res.err
    assert x509.load_der_x509_certificate(out.read_bytes()) == cert_of("0001")
    assert_not_logged(res.err, SIGN_PASSWORD)
    res = jukicard("cert", "export", "auth-ca", "--reader", mn.reader)
    assert res.rc == 0, res.err
    assert x509.load_pem_x509_certificate(res.out.encode()) == cert_of("000B")


def test_pin_change_and_back(fresh_card: Callable[..., Any], pins: PinLedger) -> None:
    card = fresh_card(PROFILE)
    res = jukicard("pin", "change", "auth", "--reader", card.reader, "--pin-stdin", "--json",
                   stdin=pins.submit(AUTH_PIN) + "\n5678\n")
    assert res.rc == 0, res.err
    assert res.json() == {"pin": "auth",
                          "name": "利用者証明用電子証明書暗証番号 (user-authentication PIN)",
                          "changed": True, "card_source": reader_source(card.reader)}
    assert_not_logged(res.err, AUTH_PIN, "5678")
    res = jukicard("pin", "change", "auth", "--reader", card.reader, "--pin-stdin",
                   stdin=pins.submit("5678") + "\n" + AUTH_PIN + "\n")
    assert res.rc == 0, res.err
    assert card.stats()["change_reference_data"] == 2


# --------------------------------------------------------------------------- pin verify
def test_pin_verify_sends_one_verify(fresh_card: Callable[..., Any], pins: PinLedger) -> None:
    """``pin verify`` through pcscd: one VERIFY with the PIN when right, one when wrong
    (exit 3, tries left), none at all for a PIN that is not asked (wrong format)."""
    card = fresh_card(PROFILE)
    before = card.stats()
    res = jukicard("pin", "verify", "text", "--reader", card.reader, "--pin-stdin", "--json",
                   stdin=pins.submit(TEXT_PIN) + "\n")
    assert res.rc == 0, res.err
    data = res.json()
    assert data["verified"] is True and data["retries_left"] == 3
    assert data["card_source"] == reader_source(card.reader)
    res = jukicard("pin", "verify", "auth", "--reader", card.reader, "--pin-stdin",
                   stdin=pins.submit("0000") + "\n")
    assert res.rc == 3 and "2 tries left" in res.err
    assert_not_logged(res.err, "0000", AUTH_PIN)
    res = jukicard("pin", "verify", "auth", "--reader", card.reader, "--pin-stdin",
                   stdin="12345\n")
    assert res.rc == 2
    after = card.stats()
    assert after["verify_with_data"] == before["verify_with_data"] + 2
